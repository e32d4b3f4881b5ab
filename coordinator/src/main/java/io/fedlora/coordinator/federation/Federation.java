package io.fedlora.coordinator.federation;

import java.time.Instant;

/** A federation as stored: its spec, where it stands, and when things happened. */
public record Federation(
        String id,
        String name,
        FederationStatus status,
        String statusReason,
        int currentRound,
        FederationSpec spec,
        Instant createdAt,
        Instant updatedAt,
        Instant startedAt,
        Instant endedAt) {}
