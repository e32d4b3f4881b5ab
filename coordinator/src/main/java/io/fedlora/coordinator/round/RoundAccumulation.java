package io.fedlora.coordinator.round;

import io.fedlora.aggregation.strategy.RoundAggregator;
import io.fedlora.coordinator.model.LayerShape;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A round's accumulator holding exactly the stored updates it was reconciled with, ready to finish.
 *
 * @param shapes        the federation's LoRA layers
 * @param targetWeights the base version's target weights (the residual is folded into them)
 * @param aggregator    every accepted update of the round folded in
 * @param rebuilt       how many of them had to be read back from their blobs at the deadline
 */
public record RoundAccumulation(List<LayerShape> shapes, Map<String, INDArray> targetWeights, RoundAggregator aggregator,
        int rebuilt) {}
