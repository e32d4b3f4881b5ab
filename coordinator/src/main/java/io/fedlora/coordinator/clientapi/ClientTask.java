package io.fedlora.coordinator.clientapi;

import java.util.List;

/**
 * Work for one client. {@code plan} and {@code expectedUpdate} are set for TRAIN; {@code reason} for DONE.
 */
public record ClientTask(
        Kind kind,
        String federationId,
        int round,
        long modelVersion,
        TrainingPlanInfo plan,
        List<TensorSpec> expectedUpdate,
        long deadlineUnixMs,
        String reason,
        double maxUpdateNorm) {

    public enum Kind { TRAIN, EVALUATE, DONE }
}
