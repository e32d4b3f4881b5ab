package io.fedlora.aggregation.strategy;

import io.fedlora.aggregation.lora.LoraFactors;
import java.util.Map;

/**
 * What a round produces: the new global factors per module, the residual per module that must be folded into
 * the frozen base (FedEx only; empty for FedIT and FFA), and the round's metrics.
 *
 * <p>Its arrays live off-heap; {@link #close()} frees them as soon as the caller has persisted what it needs
 * instead of waiting for the garbage collector (a fresh off-heap allocation costs page faults, so freeing early
 * lets the next round reuse the memory).
 */
public record AggregationResult(Map<String, LoraFactors> global, Map<String, Residual> residuals,
                                AggregationMetrics metrics) implements AutoCloseable {

    public AggregationResult {
        global = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(global));
        residuals = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(residuals));
    }

    /** Frees the global factors' and residuals' off-heap memory; nothing in this result may be used afterwards. */
    @Override
    public void close() {
        residuals.values().forEach(Residual::close);
        global.values().forEach(io.fedlora.aggregation.lora.LoraFactors::release);
    }
}
