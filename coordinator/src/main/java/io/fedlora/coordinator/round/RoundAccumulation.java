package io.fedlora.coordinator.round;

import io.fedlora.aggregation.strategy.RoundAggregator;
import io.fedlora.coordinator.model.LayerShape;
import java.util.List;

/**
 * A round's accumulator holding exactly the stored updates it was reconciled with, ready to finish.
 *
 * @param shapes        the federation's LoRA layers
 * @param baseWeightsBlob the base version's weights blob, holding the target weights the residual is folded into
 *                        (read one layer at a time when the new version is written)
 * @param aggregator    every accepted update of the round folded in
 * @param rebuilt       how many of them had to be read back from their blobs at the deadline
 */
public record RoundAccumulation(List<LayerShape> shapes, String baseWeightsBlob, RoundAggregator aggregator,
        int rebuilt) {}
