package io.fedlora.aggregation.peft;

import io.fedlora.aggregation.family.Gpt2Family;
import io.fedlora.aggregation.lora.LoraFactors;
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
 * Writes what an HF user loads: a PEFT adapter ({@code adapter_config.json}, {@code adapter_model.safetensors}
 * with PEFT key names, fp32) and, for FedEx, the residual-folded base weights as {@code model.safetensors} with
 * the base file's own keys, order, metadata and dtypes (unchanged tensors are copied byte for byte).
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

    /**
     * Adapter files plus {@code model.safetensors}: every tensor of {@code base}, with those in
     * {@code replacedBase} (keyed by the base file's keys, e.g. residual-folded weights) written from the given
     * fp32 arrays converted back to the key's original dtype.
     */
    public static void export(Path outDir, PeftAdapterConfig config, Map<String, LoraFactors> factors,
                              boolean transformerPrefix, SafetensorsReader base, Map<String, INDArray> replacedBase)
            throws IOException {
        export(outDir, config, factors, transformerPrefix ? Gpt2Family.BODY_PREFIX : "", base, replacedBase);
    }

    /** As above with the PEFT keys under {@code bodyPrefix} (the family's {@code peftModulePrefix()}). */
    public static void export(Path outDir, PeftAdapterConfig config, Map<String, LoraFactors> factors,
                              String bodyPrefix, SafetensorsReader base, Map<String, INDArray> replacedBase)
            throws IOException {
        for (String key : replacedBase.keySet()) {
            TensorInfo info = base.info(key);
            if (!java.util.Arrays.equals(info.shape(), replacedBase.get(key).shape())) {
                throw new IllegalArgumentException("replacement for " + key + " has shape "
                        + java.util.Arrays.toString(replacedBase.get(key).shape()) + ", base has "
                        + java.util.Arrays.toString(info.shape()));
            }
        }
        exportAdapter(outDir, config, factors, bodyPrefix);
        List<TensorData> out = new ArrayList<>();
        for (TensorInfo info : base.tensors().values()) {
            INDArray replaced = replacedBase.get(info.name());
            out.add(replaced != null
                    ? TensorData.of(info.name(), replaced, info.dtype())
                    : TensorData.raw(info.name(), info.dtype(), info.shape(), base.readRaw(info.name())));
        }
        Map<String, String> meta = new LinkedHashMap<>(base.metadata());
        meta.putIfAbsent("format", "pt");
        SafetensorsWriter.write(outDir.resolve(MODEL_FILE), out, meta);
    }
}
