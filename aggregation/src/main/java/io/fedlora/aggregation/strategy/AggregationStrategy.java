package io.fedlora.aggregation.strategy;

import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraLayer;
import java.util.List;
import java.util.Map;

/**
 * A federated LoRA aggregation rule (Flower-style: small, stateless, one object per rule). Each round
 * {@link #begin begins} a streaming {@link RoundAggregator} that takes client updates as they arrive.
 */
public interface AggregationStrategy {

    /** {@code fedex}, {@code fedit} or {@code ffa}. */
    String name();

    /** Starts a round with default options (metrics on, no base weights: metrics relative to the adapter delta). */
    default RoundAggregator begin(List<LoraLayer> layers, Weighting weighting, Map<String, LoraFactors> currentGlobal) {
        return begin(layers, AggregationOptions.defaults(weighting, currentGlobal));
    }

    RoundAggregator begin(List<LoraLayer> layers, AggregationOptions options);
}
