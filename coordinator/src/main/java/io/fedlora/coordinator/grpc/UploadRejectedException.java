package io.fedlora.coordinator.grpc;

import io.grpc.Status;

/**
 * An upload refused by the transport itself (malformed stream, bad chunk, checksum mismatch, size limit)
 * before the federation logic sees it. {@code reason} tags the {@code fedlora.updates.rejected} counter.
 */
public class UploadRejectedException extends RuntimeException {

    private final String reason;
    private final Status.Code code;

    public UploadRejectedException(String reason, Status.Code code, String message) {
        super(message);
        this.reason = reason;
        this.code = code;
    }

    /** An INVALID_ARGUMENT refusal. */
    public static UploadRejectedException invalid(String reason, String message) {
        return new UploadRejectedException(reason, Status.Code.INVALID_ARGUMENT, message);
    }

    public String reason() {
        return reason;
    }

    public Status.Code code() {
        return code;
    }
}
