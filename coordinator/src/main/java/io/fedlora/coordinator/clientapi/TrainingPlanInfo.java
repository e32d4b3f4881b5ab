package io.fedlora.coordinator.clientapi;

import java.util.List;

/** The LoRA shape and local hyper-parameters a client trains with (see TrainingPlan in the proto). */
public record TrainingPlanInfo(
        List<String> targetModules,
        int rank,
        double alpha,
        boolean useRslora,
        String strategy,
        int localEpochs,
        int localSteps,
        int batchSize,
        double learningRate,
        double weightDecay,
        double maxGradNorm,
        long seed,
        int maxSeqLen) {}
