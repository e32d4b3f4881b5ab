package io.fedlora.aggregation.peft;

import io.fedlora.aggregation.family.Gpt2Family;
import io.fedlora.aggregation.family.ModelSpec;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraLayer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A PEFT LoRA adapter in memory: its config and its factors per module (module names without the
 * {@code base_model.model.} and {@code transformer.} prefixes; {@code transformerPrefix} remembers the latter).
 */
public record PeftAdapter(PeftAdapterConfig config, Map<String, LoraFactors> factors, boolean transformerPrefix) {

    public PeftAdapter {
        factors = Collections.unmodifiableMap(new LinkedHashMap<>(factors));
    }

    /** The LoRA layers this adapter describes, in file order. */
    public List<LoraLayer> layers() {
        List<LoraLayer> out = new ArrayList<>();
        factors.forEach((module, f) -> out.add(new LoraLayer(module, f.dOut(), f.dIn(), f.rank(), config.layout(),
                config.scaling())));
        return out;
    }

    /** PEFT file key of a module's factor ({@code "lora_A"} or {@code "lora_B"}). */
    public static String peftKey(String module, String factor, boolean transformerPrefix) {
        return peftKey(module, factor, transformerPrefix ? Gpt2Family.BODY_PREFIX : "");
    }

    /**
     * PEFT file key of a module's factor under the family's body prefix ({@link ModelSpec#peftModulePrefix()}:
     * {@code transformer.} for GPT-2, empty for Llama, whose module names start with {@code model.}).
     */
    public static String peftKey(String module, String factor, String bodyPrefix) {
        return "base_model.model." + bodyPrefix + module + "." + factor + ".weight";
    }
}
