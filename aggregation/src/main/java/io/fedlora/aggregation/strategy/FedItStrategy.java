package io.fedlora.aggregation.strategy;

import io.fedlora.aggregation.lora.LoraLayer;
import java.util.List;

/**
 * FedIT / plain FedAvg baseline: average A and B separately and drop the residual. Inexact; its error is exactly
 * the FedAvg deviation the metrics report.
 */
public final class FedItStrategy implements AggregationStrategy {

    public static final String NAME = "fedit";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public RoundAggregator begin(List<LoraLayer> layers, AggregationOptions options) {
        return new StreamingRoundAggregator(new StrategyRule(NAME, false, false), layers, options);
    }
}
