package io.fedlora.coordinator.round;

import io.fedlora.aggregation.safetensors.TensorData;
import java.util.List;

/**
 * A durably accepted update.
 *
 * @param factors its fp32 decoded tensors, in the order of the round's expected tensor specs
 */
public record AcceptedUpdate(String federationId, long roundId, int roundNumber, StoredUpdate update,
        List<TensorData> factors) {}
