package io.fedlora.agent.daemon.upload;

/** How an upload ended: accepted (possibly as a duplicate of an earlier attempt), rejected, or still pending. */
public record UploadOutcome(Kind kind, String detail) {

    public enum Kind {
        /** The coordinator stored the update (or had already stored it under this upload id). */
        ACCEPTED,
        /** The coordinator refused it for a reason retrying cannot fix; the update was dropped. */
        REJECTED,
        /** The coordinator stayed unreachable; the update stays on disk and is sent again later. */
        PENDING
    }
}
