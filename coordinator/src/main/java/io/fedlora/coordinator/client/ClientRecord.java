package io.fedlora.coordinator.client;

import java.time.Instant;
import java.util.Map;

/** An enrolled client as stored (never with its credential). */
public record ClientRecord(String id, String federationId, String name, Map<String, Object> labels, Instant enrolledAt,
        Instant revokedAt, Instant lastHeartbeat, String state, String device, Long cachedModelVersion) {}
