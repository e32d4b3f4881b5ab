package io.fedlora.agent.train;

import io.fedlora.aggregation.lora.LoraFactors;

import java.util.Map;

/**
 * What a round of local training yields: the trained factors by module, the local example count (the weight n_i of
 * the aggregation), and metrics {@code train_loss}, {@code train_seconds}, {@code tokens}, {@code tokens_per_second}.
 */
public record TrainingResult(Map<String, LoraFactors> factors, long numExamples, Map<String, Double> metrics) {

    public TrainingResult {
        factors = Map.copyOf(factors);
        metrics = Map.copyOf(metrics);
    }
}
