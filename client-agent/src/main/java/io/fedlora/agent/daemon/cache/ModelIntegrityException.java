package io.fedlora.agent.daemon.cache;

/** A download that does not match its own manifest (checksum, size, order) or cannot apply to the cache. */
public class ModelIntegrityException extends RuntimeException {
    public ModelIntegrityException(String message) {
        super(message);
    }
}
