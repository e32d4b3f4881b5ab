package io.fedlora.aggregation.strategy;

import io.fedlora.aggregation.lora.LoraFactors;
import java.util.Map;

/**
 * What a round produces: the new global factors per module, the residual per module that must be folded into
 * the frozen base (FedEx only; empty for FedIT and FFA), and the round's metrics.
 */
public record AggregationResult(Map<String, LoraFactors> global, Map<String, Residual> residuals,
                                AggregationMetrics metrics) {

    public AggregationResult {
        global = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(global));
        residuals = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(residuals));
    }
}
