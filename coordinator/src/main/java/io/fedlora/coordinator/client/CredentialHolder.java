package io.fedlora.coordinator.client;

import java.time.Instant;

/** What authenticating a call needs to know about the client holding a credential (kept per client in memory). */
public record CredentialHolder(String id, String name, String federationId, Instant revokedAt) {}
