package io.fedlora.coordinator.round;

import java.util.Map;

/** Aggregate metrics of one round attempt, as stored in {@code round_metrics}. */
public record RoundMetrics(long roundId, int numClients, long totalExamples, Double exactnessRelError,
        Double fedavgDeviationRel, Map<String, Object> perLayer, Long aggregateMs, long bytesUp, Double trainLoss,
        Double evalLoss, Double evalAccuracy, Long evalExamples) {}
