package io.fedlora.coordinator.clientapi;

/** A refusal with a reason the agent can log; {@link Kind} maps one-to-one to a gRPC status code. */
public class ClientApiException extends RuntimeException {

    /** Mirrors the gRPC status codes the client API uses. */
    public enum Kind {
        UNAUTHENTICATED,
        PERMISSION_DENIED,
        NOT_FOUND,
        INVALID_ARGUMENT,
        FAILED_PRECONDITION,
        ALREADY_EXISTS,
        RESOURCE_EXHAUSTED,
        /** The call was superseded (e.g. by a newer poll of the same client); retrying is safe. */
        ABORTED,
        UNAVAILABLE
    }

    private final Kind kind;

    public ClientApiException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
