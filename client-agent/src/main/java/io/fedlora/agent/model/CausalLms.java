package io.fedlora.agent.model;

import io.fedlora.aggregation.family.Gpt2Family;
import io.fedlora.aggregation.family.LlamaFamily;
import io.fedlora.aggregation.family.ModelFamilies;
import io.fedlora.aggregation.family.ModelSpec;
import java.nio.file.Path;

/** Loads an HF model directory with the family its {@code config.json} {@code model_type} names. */
public final class CausalLms {

    private CausalLms() {
    }

    /**
     * Loads {@code config.json} and the weights ({@code model.safetensors} or shards); a config the agent cannot compute
     * exactly as HF does fails with {@link io.fedlora.aggregation.family.UnsupportedModelException} naming the field.
     */
    public static CausalLm load(Path dir) {
        ModelSpec spec = ModelFamilies.read(dir);
        return switch (spec.family()) {
            case Gpt2Family.NAME -> Gpt2Model.load(dir);
            case LlamaFamily.NAME -> LlamaModel.load(dir);
            default -> throw new IllegalStateException("no network for family " + spec.family());
        };
    }
}
