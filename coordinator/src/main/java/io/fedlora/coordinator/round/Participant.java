package io.fedlora.coordinator.round;

import java.time.Instant;

/** A client selected for a round attempt, with its report status. */
public record Participant(long roundId, String clientId, String clientName, String status, Instant selectedAt,
        Instant reportedAt) {}
