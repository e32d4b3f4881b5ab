package io.fedlora.agent.daemon.cache;

import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One complete, immutable model version in the cache: an HF model directory ({@code config.json},
 * {@code model.safetensors}, tokenizer files) plus the global adapter of that version.
 */
public record CachedVersion(String federationId, long version, Path dir) {

    /** Base weights, HF keys as the coordinator sent them (fp32). */
    public static final String MODEL_FILE = "model.safetensors";
    /** Global LoRA factors of this version, keys {@code <module>.lora_A} / {@code <module>.lora_B}. */
    public static final String ADAPTER_FILE = "global_adapter.safetensors";
    /** Marker describing the entry (federation, version, the version it was built from). */
    public static final String VERSION_FILE = "version.json";

    public Path modelFile() {
        return dir.resolve(MODEL_FILE);
    }

    public Path adapterFile() {
        return dir.resolve(ADAPTER_FILE);
    }

    /** The global adapter of this version by module; empty when the coordinator sent none. */
    public Map<String, LoraFactors> adapter() throws IOException {
        Map<String, LoraFactors> out = new LinkedHashMap<>();
        if (!Files.exists(adapterFile())) {
            return out;
        }
        try (SafetensorsReader reader = SafetensorsReader.open(adapterFile())) {
            for (String name : reader.tensors().keySet()) {
                if (name.endsWith(AdapterKeys.A_SUFFIX)) {
                    String module = AdapterKeys.moduleOf(name);
                    String bName = AdapterKeys.b(module);
                    if (!reader.tensors().containsKey(bName)) {
                        throw new IOException(adapterFile() + " has " + name + " but no " + bName);
                    }
                    out.put(module, new LoraFactors(reader.readFloat(name), reader.readFloat(bName)));
                }
            }
        }
        return out;
    }
}
