package io.fedlora.coordinator.round;

import io.fedlora.aggregation.safetensors.TensorData;
import java.util.List;

/**
 * An update that was just durably accepted (blob fsynced, row committed), with its decoded fp32 factors in
 * the order of the round's expected tensor list, so the round can fold it without reading the blob back.
 * The weight is {@code update.numExamples()} (already bounded by the federation's maxExamplesPerUpdate).
 * The factors' arrays are valid only during {@link AcceptedUpdateListener#updateAccepted}: an upload received over
 * gRPC frees their off-heap buffers once acceptance returned, so a listener copies what it keeps.
 */
public record AcceptedUpdate(String federationId, long roundId, int roundNumber, StoredUpdate update,
        List<TensorData> factors) {

    public AcceptedUpdate {
        factors = List.copyOf(factors);
    }
}
