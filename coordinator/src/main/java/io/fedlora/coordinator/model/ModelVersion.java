package io.fedlora.coordinator.model;

import java.time.Instant;

/**
 * An immutable published global state: the adapter, the target weights with every residual so far
 * folded in, and the residual against the previous version ({@code null} for version 0).
 */
public record ModelVersion(String federationId, long version, Long roundId, String adapterBlob, String weightsBlob,
        String residualBlob, ResidualKind residualKind, Instant createdAt) {

    /** How a version's residual blob stores each layer's residual. */
    public enum ResidualKind { NONE, FACTORS, DENSE, MIXED }
}
