package io.fedlora.aggregation.family;

import io.fedlora.aggregation.lora.LoraLayer;
import io.fedlora.aggregation.lora.LoraScaling;
import io.fedlora.aggregation.lora.WeightLayout;

/**
 * A weight matrix LoRA can adapt: its module name as the family writes it (checkpoint key without the family's
 * optional body prefix, e.g. {@code h.0.attn.c_attn} or {@code model.layers.0.self_attn.q_proj}), the transformer
 * block it belongs to, its dimensions in {@code nn.Linear} terms and the layout its base weight is stored in.
 */
public record AdaptableModule(String name, int layer, int dOut, int dIn, WeightLayout layout) {

    public AdaptableModule {
        if (name == null || name.isBlank() || dOut <= 0 || dIn <= 0 || layout == null) {
            throw new IllegalArgumentException("invalid adaptable module " + name);
        }
    }

    /** Key of the base weight. */
    public String weightKey() {
        return name + ".weight";
    }

    /** PEFT's target matching: the name equals the target or ends with {@code "." + target}. */
    public boolean matches(String target) {
        return name.equals(target) || name.endsWith("." + target);
    }

    public LoraLayer toLoraLayer(int rank, LoraScaling scaling) {
        return new LoraLayer(name, dOut, dIn, rank, layout, scaling);
    }
}
