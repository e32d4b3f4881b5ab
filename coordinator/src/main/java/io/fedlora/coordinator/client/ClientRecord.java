package io.fedlora.coordinator.client;

import io.swagger.v3.oas.annotations.media.Schema;
import java.time.Instant;
import java.util.Map;

/** An enrolled client as stored (never with its credential). */
public record ClientRecord(String id, String federationId, String name, Map<String, Object> labels, Instant enrolledAt,
        @Schema(nullable = true, description = "null unless revoked") Instant revokedAt,
        @Schema(nullable = true, description = "null before the first heartbeat") Instant lastHeartbeat,
        @Schema(nullable = true, description = "what the agent said it is doing, e.g. \"training round 2 step 40/150\"")
        String state,
        @Schema(nullable = true, description = "the device the agent trains on, e.g. cpu") String device,
        @Schema(nullable = true, description = "the model version the agent holds") Long cachedModelVersion) {}
