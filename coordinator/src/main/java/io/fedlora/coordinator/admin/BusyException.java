package io.fedlora.coordinator.admin;

import java.time.Duration;

/**
 * An admin request the coordinator has no room for right now, e.g. one export more than it builds at once (HTTP 503
 * with {@code Retry-After}): the caller retries later instead of queuing on a request thread.
 */
public class BusyException extends RuntimeException {

    private final Duration retryAfter;

    public BusyException(String message, Duration retryAfter) {
        super(message);
        this.retryAfter = retryAfter;
    }

    public Duration retryAfter() {
        return retryAfter;
    }
}
