package io.fedlora.coordinator.federation;

import io.swagger.v3.oas.annotations.media.Schema;
import java.time.Instant;

/** A federation as stored: its spec, where it stands, and when things happened. */
public record Federation(
        String id,
        String name,
        FederationStatus status,
        @Schema(nullable = true, description = "why it ended FAILED or CANCELLED; null otherwise") String statusReason,
        @Schema(description = "the round in progress or last run; 0 before the first") int currentRound,
        FederationSpec spec,
        Instant createdAt,
        Instant updatedAt,
        @Schema(nullable = true, description = "null until started") Instant startedAt,
        @Schema(nullable = true, description = "null until it ended") Instant endedAt) {}
