package io.fedlora.coordinator.round;

/** The {@code evaluations.status} values: an evaluation asked of a client is pending until reported or missed. */
public enum EvaluationStatus {
    PENDING, REPORTED, MISSED
}
