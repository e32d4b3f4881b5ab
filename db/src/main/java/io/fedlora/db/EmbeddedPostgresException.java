package io.fedlora.db;

/**
 * Thrown when the embedded PostgreSQL server cannot be prepared, started or stopped.
 * The message carries the tail of the PostgreSQL tool's output when there was one, so the cause is visible
 * without hunting for log files.
 */
public class EmbeddedPostgresException extends RuntimeException {

    public EmbeddedPostgresException(String message) {
        super(message);
    }

    public EmbeddedPostgresException(String message, Throwable cause) {
        super(message, cause);
    }
}
