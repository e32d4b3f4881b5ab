package io.fedlora.agent.daemon.transport;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.Locale;

/**
 * The agent's coordinator address answers, but not as a gRPC server (typically the REST port 8080 instead of
 * the gRPC port, or TLS against plaintext): retrying would never help, so the agent stops with this message.
 */
public final class NotGrpcServiceException extends RuntimeException {

    public NotGrpcServiceException(String target, StatusRuntimeException cause) {
        super("no gRPC service at " + target + " \u2014 is this the coordinator's gRPC port (default 9090)? ("
                + Retrier.describe(cause.getStatus()) + ")", cause);
    }

    /** With what the agent found out about the peer besides the gRPC failure. */
    public NotGrpcServiceException(String target, StatusRuntimeException cause, String finding) {
        super("no gRPC service at " + target + " \u2014 is this the coordinator's gRPC port (default 9090)? " + finding
                + " (" + Retrier.describe(cause.getStatus()) + ")", cause);
    }

    /**
     * True when the failure shows a peer that speaks something other than gRPC: an HTTP/1.x or TLS answer to the
     * HTTP/2 preface ("First received frame was not SETTINGS"), or an HTTP answer without gRPC's content type.
     */
    static boolean isNotGrpc(Status status) {
        if (mentions(status.getDescription())) {
            return true;
        }
        for (Throwable t = status.getCause(); t != null; t = t.getCause()) {
            if (mentions(t.getMessage())) {
                return true;
            }
        }
        return false;
    }

    private static boolean mentions(String text) {
        if (text == null) {
            return false;
        }
        String s = text.toLowerCase(Locale.ROOT);
        return s.contains("first received frame was not settings") || s.contains("invalid content-type");
    }
}
