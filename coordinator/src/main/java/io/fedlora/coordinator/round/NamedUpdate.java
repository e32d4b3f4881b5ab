package io.fedlora.coordinator.round;

/** An accepted update with its client's name, the key that fixes the order of a round's sums. */
public record NamedUpdate(String clientName, StoredUpdate update) {}
