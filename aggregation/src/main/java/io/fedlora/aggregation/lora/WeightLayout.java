package io.fedlora.aggregation.lora;

/**
 * How a base weight is stored. The FedEx residual must be folded in the layer's own layout: adding the
 * transpose to an {@code nn.Linear} weight is wrong, and only a non-square layer shows it.
 */
public enum WeightLayout {
    /** {@code nn.Linear}: {@code d_out x d_in}; delta = {@code s * B @ A}. */
    LINEAR,
    /** HF GPT-2 {@code Conv1D} (PEFT {@code fan_in_fan_out}): {@code d_in x d_out}; delta = {@code (s * B @ A)^T}. */
    CONV1D;

    /** Shape of the base weight of a layer with these dimensions. */
    public long[] baseShape(long dOut, long dIn) {
        return this == LINEAR ? new long[] {dOut, dIn} : new long[] {dIn, dOut};
    }

    /** Layout PEFT uses for {@code fan_in_fan_out}. */
    public static WeightLayout fromFanInFanOut(boolean fanInFanOut) {
        return fanInFanOut ? CONV1D : LINEAR;
    }

    public boolean fanInFanOut() {
        return this == CONV1D;
    }
}
