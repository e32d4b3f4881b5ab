package io.fedlora.aggregation.lora;

/** LoRA's output scale: {@code alpha / r}, or {@code alpha / sqrt(r)} with rsLoRA. */
public record LoraScaling(double alpha, int rank, boolean rslora) {

    public LoraScaling {
        if (rank <= 0) {
            throw new IllegalArgumentException("LoRA rank must be positive, got " + rank);
        }
        if (!Double.isFinite(alpha)) {
            throw new IllegalArgumentException("LoRA alpha must be finite, got " + alpha);
        }
    }

    public double scale() {
        return rslora ? alpha / Math.sqrt(rank) : alpha / rank;
    }
}
