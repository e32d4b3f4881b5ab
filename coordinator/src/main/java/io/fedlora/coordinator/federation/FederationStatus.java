package io.fedlora.coordinator.federation;

/** Life cycle of a federation (mirrored by a CHECK constraint in the schema). */
public enum FederationStatus {
    CREATED, RUNNING, PAUSED, COMPLETED, CANCELLED, FAILED;

    public boolean isTerminal() {
        return this == COMPLETED || this == CANCELLED || this == FAILED;
    }
}
