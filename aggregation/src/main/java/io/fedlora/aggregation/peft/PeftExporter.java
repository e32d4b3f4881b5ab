package io.fedlora.aggregation.peft;

import io.fedlora.aggregation.family.Gpt2Family;
import io.fedlora.aggregation.lora.LayoutGemm;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.OffHeap;
import io.fedlora.aggregation.lora.WeightLayout;
import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
import io.fedlora.aggregation.safetensors.TensorData;
import io.fedlora.aggregation.safetensors.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Writes the parts of what an HF user loads: a PEFT adapter ({@code adapter_config.json},
 * {@code adapter_model.safetensors} with PEFT key names, fp32), and model weights with the base file's own keys, order,
 * metadata and dtypes (unchanged tensors copied byte for byte): the residual-folded base or the merged model.
 * {@link ExportLayout} puts them where a user cannot load one for the other.
 */
public final class PeftExporter {

    public static final String MODEL_FILE = "model.safetensors";

    private PeftExporter() {
    }

    /** Adapter files only. */
    public static void exportAdapter(Path outDir, PeftAdapterConfig config, Map<String, LoraFactors> factors,
                                     boolean transformerPrefix) throws IOException {
        exportAdapter(outDir, config, factors, transformerPrefix ? Gpt2Family.BODY_PREFIX : "");
    }

    /** Adapter files only, PEFT keys under {@code bodyPrefix} (the family's {@code peftModulePrefix()}). */
    public static void exportAdapter(Path outDir, PeftAdapterConfig config, Map<String, LoraFactors> factors,
                                     String bodyPrefix) throws IOException {
        Files.createDirectories(outDir);
        config.write(outDir.resolve(PeftAdapterConfig.FILE_NAME));
        Map<String, INDArray> tensors = new LinkedHashMap<>();
        factors.forEach((module, f) -> {
            tensors.put(PeftAdapter.peftKey(module, "lora_A", bodyPrefix), f.a());
            tensors.put(PeftAdapter.peftKey(module, "lora_B", bodyPrefix), f.b());
        });
        SafetensorsWriter.write(outDir.resolve(PeftAdapterReader.WEIGHTS_FILE), tensors, Map.of("format", "pt"), DType.F32);
    }

    /** Fails unless every replacement has its base tensor's shape. */
    static void checkShapes(SafetensorsReader base, ReplacedWeights replacedBase) {
        for (String key : replacedBase.keys()) {
            TensorInfo info = base.info(key);
            if (!java.util.Arrays.equals(info.shape(), replacedBase.shape(key))) {
                throw new IllegalArgumentException("replacement for " + key + " has shape "
                        + java.util.Arrays.toString(replacedBase.shape(key)) + ", base has "
                        + java.util.Arrays.toString(info.shape()));
            }
        }
    }

    /**
     * Writes {@code file}: every tensor of {@code base}, those in {@code replacedBase} (the residual-folded weights)
     * with the adapter's {@code s·B·A} added in each layer's layout, in the key's original dtype: the fully merged
     * model, loadable with a plain {@code from_pretrained}, no PEFT.
     *
     * @param baseKeys module → its weight's key in {@code base}
     */
    public static void writeMerged(Path file, Map<String, LoraFactors> factors, Map<String, String> baseKeys,
                                   Map<String, WeightLayout> layouts, double scale, SafetensorsReader base,
                                   Map<String, INDArray> replacedBase) throws IOException {
        writeMerged(file, factors, baseKeys, layouts, scale, base, ReplacedWeights.of(replacedBase));
    }

    /** As above, with the replaced weights read as the writer reaches them. */
    public static void writeMerged(Path file, Map<String, LoraFactors> factors, Map<String, String> baseKeys,
                                   Map<String, WeightLayout> layouts, double scale, SafetensorsReader base,
                                   ReplacedWeights replacedBase) throws IOException {
        Map<String, String> moduleOfKey = new LinkedHashMap<>();
        for (String module : factors.keySet()) {
            String key = baseKeys.get(module);
            if (key == null) {
                throw new IllegalArgumentException("no base weight key for adapted module " + module);
            }
            moduleOfKey.put(key, module);
        }
        // each merged weight is computed as the writer reaches it and freed once written: one layer's copy at a time
        // instead of all of them (GPT-2-small's c_attn: 7 MB at a time instead of 85 MB)
        List<TensorData> out = new ArrayList<>();
        for (TensorInfo info : base.tensors().values()) {
            String key = info.name();
            String module = moduleOfKey.get(key);
            boolean replaced = replacedBase.keys().contains(key);
            if (module != null) {
                out.add(TensorData.computed(key, info.dtype(), info.shape(), () -> merged(base, key,
                        replaced ? replacedBase : null, factors.get(module), layouts.get(module), scale)));
            } else {
                out.add(replaced ? TensorData.computed(key, info.dtype(), info.shape(), () -> replacedBase.read(key))
                        : base.rawData(key));
            }
        }
        write(file, base, out);
    }

    /** {@code W + s·B·A} in the layer's layout, {@code W} the replaced weight if any, else the base's. */
    private static INDArray merged(SafetensorsReader base, String key, ReplacedWeights replaced, LoraFactors f,
                                   WeightLayout layout, double scale) {
        INDArray w;
        if (replaced != null) {
            w = replaced.read(key);
        } else {
            INDArray read = base.readFloat(key);
            w = read.dup('c');
            OffHeap.release(read);
        }
        INDArray b = f.b().castTo(w.dataType());
        INDArray a = f.a().castTo(w.dataType());
        LayoutGemm.addProduct(w, layout, b, a, scale, 1.0);
        return w;
    }

    /** {@code base}'s tensors, byte for byte, but those in {@code replacedBase} written from the arrays. */
    public static void writeModel(Path file, SafetensorsReader base, Map<String, INDArray> replacedBase) throws IOException {
        writeModel(file, base, ReplacedWeights.of(replacedBase));
    }

    /** As above, with the replaced weights read (and freed) one at a time as the writer reaches them. */
    public static void writeModel(Path file, SafetensorsReader base, ReplacedWeights replacedBase) throws IOException {
        List<TensorData> out = new ArrayList<>();
        for (TensorInfo info : base.tensors().values()) {
            String key = info.name();
            out.add(replacedBase.keys().contains(key)
                    ? TensorData.computed(key, info.dtype(), info.shape(), () -> replacedBase.read(key))
                    : base.rawData(key));
        }
        write(file, base, out);
    }

    private static void write(Path file, SafetensorsReader base, List<TensorData> tensors) throws IOException {
        Map<String, String> meta = new LinkedHashMap<>(base.metadata());
        meta.putIfAbsent("format", "pt");
        SafetensorsWriter.write(file, tensors, meta);
    }
}
