package io.fedlora.aggregation.lora;

import java.util.Arrays;

/**
 * One LoRA-adapted layer: HF module name without prefix (e.g. {@code h.0.attn.c_attn}), dimensions in
 * {@code nn.Linear} terms, rank, base-weight layout and scaling.
 */
public record LoraLayer(String module, int dOut, int dIn, int rank, WeightLayout layout, LoraScaling scaling) {

    public LoraLayer {
        if (module == null || module.isBlank()) {
            throw new IllegalArgumentException("LoRA layer needs a module name");
        }
        if (dOut <= 0 || dIn <= 0 || rank <= 0) {
            throw new IllegalArgumentException("LoRA layer " + module + ": dimensions must be positive (d_out="
                    + dOut + ", d_in=" + dIn + ", r=" + rank + ")");
        }
        if (layout == null || scaling == null) {
            throw new IllegalArgumentException("LoRA layer " + module + ": layout and scaling are required");
        }
        if (scaling.rank() != rank) {
            throw new IllegalArgumentException("LoRA layer " + module + ": scaling rank " + scaling.rank()
                    + " differs from layer rank " + rank);
        }
    }

    /** Key of the frozen base weight: {@code module + ".weight"}. */
    public String baseKey() {
        return module + ".weight";
    }

    /** Shape the base weight must have in this layer's layout. */
    public long[] baseShape() {
        return layout.baseShape(dOut, dIn);
    }

    /** Throws naming {@code source} if {@code shape} is not this layer's base shape. */
    public void checkBaseShape(long[] shape, String source) {
        if (!Arrays.equals(shape, baseShape())) {
            throw new IllegalArgumentException(source + ": base weight " + baseKey() + " has shape "
                    + Arrays.toString(shape) + " but a " + layout + " layer with d_out=" + dOut + ", d_in=" + dIn
                    + " needs " + Arrays.toString(baseShape()));
        }
    }
}
