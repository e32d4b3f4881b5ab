package io.fedlora.aggregation.strategy;

import io.fedlora.aggregation.lora.LoraLayer;
import java.util.List;

/**
 * FedEx-LoRA: average A and B, and fold the exact residual {@code sum w_i B_i A_i - B'A'} into the frozen base,
 * so {@code W0' + s B'A' = sum w_i (W0 + s B_i A_i)}.
 */
public final class FedExStrategy implements AggregationStrategy {

    public static final String NAME = "fedex";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public RoundAggregator begin(List<LoraLayer> layers, AggregationOptions options) {
        return new StreamingRoundAggregator(new StrategyRule(NAME, true, false), layers, options);
    }
}
