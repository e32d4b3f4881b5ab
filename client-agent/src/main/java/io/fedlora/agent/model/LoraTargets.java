package io.fedlora.agent.model;

import io.fedlora.aggregation.family.ModelSpec;
import io.fedlora.aggregation.lora.LoraLayer;
import io.fedlora.aggregation.lora.LoraScaling;

import java.util.List;

/**
 * Resolves PEFT-style {@code target_modules} against a model family's adaptable modules. As in PEFT a target matches a
 * module whose name equals it or ends with {@code "." + target}: for GPT-2 {@code c_attn} selects every
 * {@code h.N.attn.c_attn}, {@code c_proj} both {@code attn.c_proj} and {@code mlp.c_proj}; for Llama {@code q_proj}
 * every {@code model.layers.N.self_attn.q_proj}. Each layer carries its family's weight layout.
 */
public final class LoraTargets {

    private LoraTargets() {
    }

    /** The LoRA layers for the targets in model order; fails if a target matches nothing. */
    public static List<LoraLayer> resolve(ModelSpec spec, List<String> targets, int rank, LoraScaling scaling) {
        return spec.loraLayers(targets, rank, scaling);
    }

    /** GPT-2 shorthand of {@link #resolve(ModelSpec, List, int, LoraScaling)}. */
    public static List<LoraLayer> resolve(Gpt2Config config, List<String> targets, int rank, LoraScaling scaling) {
        return resolve(config.spec(), targets, rank, scaling);
    }
}
