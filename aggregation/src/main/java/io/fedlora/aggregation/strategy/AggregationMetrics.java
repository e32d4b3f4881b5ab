package io.fedlora.aggregation.strategy;

import java.util.Map;

/**
 * Per-layer and overall metrics of one aggregation. The overall figures are Frobenius norms over all
 * checked layers together (not an average of ratios); NaN if no layer was checked.
 */
public record AggregationMetrics(Map<String, LayerMetrics> perLayer, double exactnessRelError, double fedavgDeviationRel) {

    public AggregationMetrics {
        perLayer = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(perLayer));
    }
}
