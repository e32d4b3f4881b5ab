package io.fedlora.coordinator.clientapi;

/** A client whose credential was verified for this call. */
public record AuthenticatedClient(String clientId, String clientName, String federationId) {}
