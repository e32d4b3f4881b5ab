package io.fedlora.coordinator.clientapi;

import java.util.List;
import java.util.Map;

/** The header of an upload, as declared by the client (not yet trusted). */
public record UpdateHeaderInfo(
        String federationId,
        int round,
        String uploadId,
        long numExamples,
        long baseModelVersion,
        List<TensorSpec> tensors,
        Map<String, Double> metrics) {}
