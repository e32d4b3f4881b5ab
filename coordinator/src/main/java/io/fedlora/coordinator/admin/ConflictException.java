package io.fedlora.coordinator.admin;

/** An admin request that the target's current state forbids, e.g. starting a cancelled federation (HTTP 409). */
public class ConflictException extends RuntimeException {
    public ConflictException(String message) {
        super(message);
    }
}
