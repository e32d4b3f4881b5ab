package io.fedlora.aggregation.strategy;

/**
 * One layer's round metrics, both relative to {@code ||sum w_i (W0 + s B_i A_i)||_F}: how far the published
 * model is from the exact average ({@code exactnessRelError}, ~1e-7 for FedEx in fp32) and how far plain
 * FedAvg would be ({@code fedavgDeviationRel = s ||R||_F / ...}). NaN when the check was skipped.
 */
public record LayerMetrics(double exactnessRelError, double fedavgDeviationRel) {

    public static LayerMetrics skipped() {
        return new LayerMetrics(Double.NaN, Double.NaN);
    }

    public boolean isSkipped() {
        return Double.isNaN(exactnessRelError);
    }
}
