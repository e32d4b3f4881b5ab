package io.fedlora.coordinator.clientapi;

import java.util.Map;

/** A client's evaluation of a published model version on its held-out data. */
public record EvaluationInfo(
        String federationId, int round, long modelVersion, long numExamples, double loss, double accuracy,
        Map<String, Double> metrics) {}
