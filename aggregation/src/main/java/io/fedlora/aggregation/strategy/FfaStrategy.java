package io.fedlora.aggregation.strategy;

import io.fedlora.aggregation.lora.LoraLayer;
import java.util.List;

/**
 * FFA-LoRA baseline: A stays frozen at its initial value (every client must send the same A, else the update is
 * rejected) and only B is averaged. Exact, since {@code sum w_i B_i A = B'A}, but less expressive.
 */
public final class FfaStrategy implements AggregationStrategy {

    public static final String NAME = "ffa";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public RoundAggregator begin(List<LoraLayer> layers, AggregationOptions options) {
        return new StreamingRoundAggregator(new StrategyRule(NAME, false, true), layers, options);
    }
}
