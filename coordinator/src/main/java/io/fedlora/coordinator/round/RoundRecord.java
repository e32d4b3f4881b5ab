package io.fedlora.coordinator.round;

import java.time.Instant;

/** One attempt of one round as stored. {@code baseVersion} is the version clients train from. */
public record RoundRecord(long id, String federationId, int number, int attempt, RoundStatus status, long baseVersion,
        Instant deadline, Instant evalDeadline, String reason, long bytesDown, Instant createdAt, Instant startedAt,
        Instant collectingAt, Instant aggregatingAt, Instant evaluatingAt, Instant endedAt) {}
