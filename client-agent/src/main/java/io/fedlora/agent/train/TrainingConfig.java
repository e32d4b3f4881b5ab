package io.fedlora.agent.train;

import io.fedlora.aggregation.lora.LoraScaling;

import java.util.List;

/**
 * Local LoRA training settings for one round, as the coordinator's task prescribes them.
 *
 * @param targetModules PEFT-style targets ({@code c_attn}, {@code c_proj}, {@code c_fc}, or a longer suffix)
 * @param freezeA       FFA-LoRA: A keeps its initial value, only B is trained
 * @param localSteps    optimiser steps per round; 0 means {@code localEpochs} passes over the data instead
 * @param maxGradNorm   global gradient-norm clip; 0 or less disables clipping
 * @param maxSeqLen     longest token sequence used (examples are truncated to it when read)
 */
public record TrainingConfig(List<String> targetModules, int rank, double alpha, boolean rslora, boolean freezeA,
                             int localEpochs, int localSteps, int batchSize, double learningRate, double weightDecay,
                             double maxGradNorm, long seed, int maxSeqLen) {

    public TrainingConfig {
        targetModules = List.copyOf(targetModules);
        if (targetModules.isEmpty()) {
            throw new IllegalArgumentException("targetModules must name at least one module");
        }
        if (rank <= 0) {
            throw new IllegalArgumentException("rank must be positive, got " + rank);
        }
        if (localSteps < 0 || (localSteps == 0 && localEpochs <= 0)) {
            throw new IllegalArgumentException("need localSteps > 0 or localEpochs > 0 (got steps " + localSteps + ", epochs " + localEpochs + ")");
        }
        if (batchSize <= 0) {
            throw new IllegalArgumentException("batchSize must be positive, got " + batchSize);
        }
        if (!(learningRate > 0) || !Double.isFinite(learningRate)) {
            throw new IllegalArgumentException("learningRate must be positive and finite, got " + learningRate);
        }
        if (weightDecay < 0 || !Double.isFinite(weightDecay)) {
            throw new IllegalArgumentException("weightDecay must be finite and non-negative, got " + weightDecay);
        }
        if (maxSeqLen < 2) {
            throw new IllegalArgumentException("maxSeqLen must be at least 2, got " + maxSeqLen);
        }
    }

    /** The contract's defaults: c_attn, r 8, alpha 16, one epoch of batch 8 at lr 1e-3, clip 1.0, seed 42, 64 tokens. */
    public static TrainingConfig defaults() {
        return new TrainingConfig(List.of("c_attn"), 8, 16, false, false, 1, 0, 8, 1e-3, 0.0, 1.0, 42, 64);
    }

    /** The adapters' output scale. */
    public LoraScaling scaling() {
        return new LoraScaling(alpha, rank, rslora);
    }
}
