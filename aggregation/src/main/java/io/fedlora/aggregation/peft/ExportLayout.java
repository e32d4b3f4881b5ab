package io.fedlora.aggregation.peft;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.WeightLayout;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The directory layout of a fedlora export (the coordinator's export zip and {@code aggregate --out}), chosen so that
 * every directory of it a Hugging Face user can point transformers or PEFT at either gives the federated model
 * {@code W0' + s·B'A'} or fails loudly; checked with transformers 5.18 and PEFT 0.21, with and without peft installed:
 * <ul>
 * <li>top level: the merged federated model ({@code config.json}, {@code model.safetensors}, tokenizer files). It holds
 * no {@code adapter_config.json}, so transformers never stacks an adapter on it, with or without peft.</li>
 * <li>{@value #ADAPTER_DIR}/: {@code adapter_config.json} and {@code adapter_model.safetensors}, naming no base: no
 * {@code config.json}, and {@code AutoPeftModelForCausalLM} finds no base instead of a wrong one.</li>
 * <li>{@value #BASE_DIR}/: the residual-folded base {@code W0'} ({@code model.safetensors}) the adapter belongs on, and
 * a {@code generation_config.json}, but on purpose no {@code config.json}: a plain {@code from_pretrained} of it fails
 * instead of giving the base without its adapter (the trap the previous layout had without peft). It loads with
 * {@code config=AutoConfig.from_pretrained(export)}; the generation config is there because transformers otherwise
 * looks for it in a {@code config.json} of this directory and fails.</li>
 * </ul>
 * The one pairing no layout can refuse is the adapter on the top-level model, which already contains it.
 */
public final class ExportLayout {

    public static final String ADAPTER_DIR = "adapter";
    public static final String BASE_DIR = "base";
    public static final String CONFIG_FILE = "config.json";
    public static final String GENERATION_CONFIG_FILE = "generation_config.json";
    /** Zip entry names of the weights our own tooling reads. */
    public static final String MERGED_ENTRY = PeftExporter.MODEL_FILE;
    public static final String BASE_ENTRY = BASE_DIR + "/" + PeftExporter.MODEL_FILE;
    public static final String ADAPTER_CONFIG_ENTRY = ADAPTER_DIR + "/" + PeftAdapterConfig.FILE_NAME;
    public static final String ADAPTER_WEIGHTS_ENTRY = ADAPTER_DIR + "/" + PeftAdapterReader.WEIGHTS_FILE;
    /** config.json fields transformers copies from a model config into the generation config it derives. */
    private static final List<String> GENERATION_FIELDS = List.of("bos_token_id", "eos_token_id", "pad_token_id",
            "decoder_start_token_id");

    private ExportLayout() {
    }

    /** The merged federated model's weights. */
    public static Path mergedModel(Path export) {
        return export.resolve(MERGED_ENTRY);
    }

    /** The residual-folded base's weights. */
    public static Path baseModel(Path export) {
        return export.resolve(BASE_DIR).resolve(PeftExporter.MODEL_FILE);
    }

    /** The PEFT adapter directory ({@link PeftAdapterReader#read} reads it). */
    public static Path adapterDir(Path export) {
        return export.resolve(ADAPTER_DIR);
    }

    /** The adapter's weights. */
    public static Path adapterWeights(Path export) {
        return adapterDir(export).resolve(PeftAdapterReader.WEIGHTS_FILE);
    }

    /**
     * Writes the weights of an export into {@code outDir}: the adapter ({@code config} must name no base), the folded
     * base ({@code base}'s tensors with {@code replacedBase} in their original dtypes) and the merged model (the folded
     * base plus {@code scale·B·A} in each module's layout).
     *
     * @param bodyPrefix the family's {@code peftModulePrefix()}, before module names in the adapter's keys
     * @param baseKeys   module → its weight's key in {@code base}
     */
    public static void writeWeights(Path outDir, PeftAdapterConfig config, Map<String, LoraFactors> factors,
                                    String bodyPrefix, Map<String, String> baseKeys, Map<String, WeightLayout> layouts,
                                    double scale, SafetensorsReader base, Map<String, INDArray> replacedBase)
            throws IOException {
        writeWeights(outDir, config, factors, bodyPrefix, baseKeys, layouts, scale, base,
                ReplacedWeights.of(replacedBase));
    }

    /** As above, with the replaced weights read as each file's writer reaches them (one in memory at a time). */
    public static void writeWeights(Path outDir, PeftAdapterConfig config, Map<String, LoraFactors> factors,
                                    String bodyPrefix, Map<String, String> baseKeys, Map<String, WeightLayout> layouts,
                                    double scale, SafetensorsReader base, ReplacedWeights replacedBase)
            throws IOException {
        if (config.baseModelNameOrPath() != null) {
            throw new IllegalArgumentException("an export's adapter names no base (its base is " + BASE_DIR
                    + "/, not " + config.baseModelNameOrPath() + ")");
        }
        PeftExporter.checkShapes(base, replacedBase);
        PeftExporter.exportAdapter(adapterDir(outDir), config, factors, bodyPrefix);
        Files.createDirectories(outDir.resolve(BASE_DIR));
        PeftExporter.writeModel(baseModel(outDir), base, replacedBase);
        PeftExporter.writeMerged(mergedModel(outDir), factors, baseKeys, layouts, scale, base, replacedBase);
    }

    /**
     * Adds the model directory's auxiliary files ({@code files}: file name → source; config, tokenizer, generation
     * config) at the top level, unless already written, and {@code base/generation_config.json}: the model's own or,
     * without one, the token ids transformers would take from {@code config.json}. Without a {@code config.json}
     * nothing is written into {@code base/}: nothing there could be loaded anyway.
     */
    public static void writeModelFiles(Path outDir, Map<String, Path> files) throws IOException {
        for (Map.Entry<String, Path> f : files.entrySet()) {
            Path target = outDir.resolve(f.getKey());
            if (!Files.exists(target)) {
                Files.copy(f.getValue(), target);
            }
        }
        Path base = outDir.resolve(BASE_DIR);
        Files.createDirectories(base);
        Path generation = files.get(GENERATION_CONFIG_FILE);
        Path config = files.get(CONFIG_FILE);
        if (generation != null) {
            Files.copy(generation, base.resolve(GENERATION_CONFIG_FILE));
        } else if (config != null) {
            ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            JsonNode cfg = json.readTree(config.toFile());
            ObjectNode g = json.createObjectNode();
            for (String field : GENERATION_FIELDS) {
                if (cfg.hasNonNull(field)) {
                    g.set(field, cfg.get(field));
                }
            }
            json.writeValue(base.resolve(GENERATION_CONFIG_FILE).toFile(), g);
        }
    }
}
