package io.fedlora.agent.model;

import io.fedlora.aggregation.lora.LoraLayer;
import io.fedlora.aggregation.lora.LoraScaling;
import io.fedlora.aggregation.lora.WeightLayout;

import java.util.ArrayList;
import java.util.List;

/**
 * Resolves PEFT-style {@code target_modules} against the GPT-2 layout. As in PEFT a target matches a module whose
 * name equals it or ends with {@code "." + target}: {@code c_attn} selects every {@code h.N.attn.c_attn},
 * {@code c_proj} both {@code attn.c_proj} and {@code mlp.c_proj}, {@code mlp.c_proj} only the latter.
 */
public final class LoraTargets {

    /** The adaptable (Conv1D) modules of one block, relative to {@code h.N.}. */
    private static final List<String> BLOCK_MODULES = List.of("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj");

    private LoraTargets() {
    }

    /** The LoRA layers for the targets in model order; fails if a target matches nothing. */
    public static List<LoraLayer> resolve(Gpt2Config config, List<String> targets, int rank, LoraScaling scaling) {
        if (targets == null || targets.isEmpty()) {
            throw new IllegalArgumentException("no LoRA target modules given (e.g. [\"c_attn\"])");
        }
        List<LoraLayer> layers = new ArrayList<>();
        boolean[] used = new boolean[targets.size()];
        for (int i = 0; i < config.nLayer(); i++) {
            for (String rel : BLOCK_MODULES) {
                String module = "h." + i + "." + rel;
                boolean match = false;
                for (int t = 0; t < targets.size(); t++) {
                    String target = targets.get(t);
                    if (module.equals(target) || module.endsWith("." + target)) {
                        match = true;
                        used[t] = true;
                    }
                }
                if (match) {
                    layers.add(new LoraLayer(module, dOut(config, rel), dIn(config, rel), rank, WeightLayout.CONV1D, scaling));
                }
            }
        }
        for (int t = 0; t < targets.size(); t++) {
            if (!used[t]) {
                throw new IllegalArgumentException("LoRA target '" + targets.get(t) + "' matches no module; GPT-2 modules are "
                        + "c_attn, c_proj (attn.c_proj, mlp.c_proj), c_fc");
            }
        }
        return layers;
    }

    private static int dIn(Gpt2Config c, String rel) {
        return rel.equals("mlp.c_proj") ? c.nInner() : c.nEmbd();
    }

    private static int dOut(Gpt2Config c, String rel) {
        return switch (rel) {
            case "attn.c_attn" -> 3 * c.nEmbd();
            case "mlp.c_fc" -> c.nInner();
            default -> c.nEmbd();
        };
    }
}
