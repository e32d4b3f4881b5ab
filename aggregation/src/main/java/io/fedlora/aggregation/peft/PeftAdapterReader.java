package io.fedlora.aggregation.peft;

import io.fedlora.aggregation.family.Gpt2Family;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Reads an HF PEFT LoRA adapter directory ({@code adapter_config.json} + {@code adapter_model.safetensors}).
 * Every tensor must be a {@code lora_A}/{@code lora_B} weight of rank {@code r}, each module must have both,
 * and anything else (biases, embedding adapters, DoRA magnitudes) is rejected naming the file and key.
 */
public final class PeftAdapterReader {

    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    private static final String PREFIX = "base_model.model.";

    private PeftAdapterReader() {
    }

    public static PeftAdapter read(Path dir) throws IOException {
        Path configFile = dir.resolve(PeftAdapterConfig.FILE_NAME);
        Path weights = dir.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(configFile)) {
            throw new PeftFormatException(configFile, null, "missing (not a PEFT adapter directory?)");
        }
        if (!Files.isRegularFile(weights)) {
            throw new PeftFormatException(weights, null, "missing (only safetensors adapters are supported)");
        }
        PeftAdapterConfig config = PeftAdapterConfig.read(configFile);
        Map<String, INDArray> as = new LinkedHashMap<>();
        Map<String, INDArray> bs = new LinkedHashMap<>();
        Boolean prefixed = null;
        try (SafetensorsReader reader = SafetensorsReader.open(weights)) {
            for (String key : reader.tensors().keySet()) {
                String factor;
                String suffix;
                if (key.endsWith(".lora_A.weight")) {
                    factor = "A";
                    suffix = ".lora_A.weight";
                } else if (key.endsWith(".lora_B.weight")) {
                    factor = "B";
                    suffix = ".lora_B.weight";
                } else {
                    throw new PeftFormatException(weights, key, "not a lora_A/lora_B weight (only plain LoRA adapters"
                            + " with bias=\"none\" are supported)");
                }
                if (!key.startsWith(PREFIX)) {
                    throw new PeftFormatException(weights, key, "does not start with '" + PREFIX + "'");
                }
                String module = key.substring(PREFIX.length(), key.length() - suffix.length());
                boolean hasPrefix = module.startsWith(Gpt2Family.BODY_PREFIX);
                if (hasPrefix) {
                    module = module.substring(Gpt2Family.BODY_PREFIX.length());
                }
                if (prefixed != null && prefixed != hasPrefix) {
                    throw new PeftFormatException(weights, key, "mixes keys with and without the '" + Gpt2Family.BODY_PREFIX
                            + "' prefix");
                }
                prefixed = hasPrefix;
                INDArray t = reader.readFloat(key);
                if (t.rank() != 2) {
                    throw new PeftFormatException(weights, key, "expected a matrix, got shape " + Arrays.toString(t.shape()));
                }
                long rank = factor.equals("A") ? t.rows() : t.columns();
                if (rank != config.r()) {
                    throw new PeftFormatException(weights, key, "shape " + Arrays.toString(t.shape())
                            + " does not have rank r=" + config.r() + " from " + PeftAdapterConfig.FILE_NAME);
                }
                (factor.equals("A") ? as : bs).put(module, t);
            }
        }
        if (as.isEmpty()) {
            throw new PeftFormatException(weights, null, "contains no LoRA weights");
        }
        Map<String, LoraFactors> factors = new LinkedHashMap<>();
        boolean p = Boolean.TRUE.equals(prefixed);
        for (String module : as.keySet()) {
            if (!bs.containsKey(module)) {
                throw new PeftFormatException(weights, PeftAdapter.peftKey(module, "lora_B", p), "missing (lora_A is present)");
            }
            factors.put(module, new LoraFactors(as.get(module), bs.get(module)));
        }
        for (String module : bs.keySet()) {
            if (!as.containsKey(module)) {
                throw new PeftFormatException(weights, PeftAdapter.peftKey(module, "lora_A", p), "missing (lora_B is present)");
            }
        }
        return new PeftAdapter(config, factors, p);
    }
}
