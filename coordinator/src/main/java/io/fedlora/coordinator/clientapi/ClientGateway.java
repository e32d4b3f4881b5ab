package io.fedlora.coordinator.clientapi;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * What the coordinator offers to client agents, independent of the transport. The gRPC layer
 * translates wire messages to these calls and {@link ClientApiException}s to gRPC statuses, so the
 * federation logic (selection, validation, durability) stays testable without sockets.
 */
public interface ClientGateway {

    /** Consumes a one-time enrolment token and returns the new client's credential (shown once). */
    Enrolment enrol(String enrolmentToken, String clientName, Map<String, String> labels);

    /** Resolves a bearer credential; UNAUTHENTICATED if unknown, PERMISSION_DENIED if revoked. */
    AuthenticatedClient authenticate(String credential);

    void heartbeat(AuthenticatedClient client, String state, long cachedModelVersion, String device);

    /**
     * Starts waiting up to {@code maxWait} for work for this client, holding no thread while it waits. The future
     * completes with the task (empty means WAIT; a task of kind DONE means the client's federation has ended) or
     * fails with a {@link ClientApiException}: ABORTED when a newer poll of the same client superseded it.
     * Cancelling the future ends the wait and forgets the poll.
     */
    CompletableFuture<Optional<ClientTask>> startTaskPoll(AuthenticatedClient client, long cachedModelVersion,
            Duration maxWait);

    /** {@link #startTaskPoll} for an in-process caller that may block; an interrupt ends the wait (empty). */
    default Optional<ClientTask> pollTask(AuthenticatedClient client, long cachedModelVersion, Duration maxWait) {
        CompletableFuture<Optional<ClientTask>> poll = startTaskPoll(client, cachedModelVersion, maxWait);
        try {
            return poll.get();
        } catch (InterruptedException e) {
            poll.cancel(false);
            Thread.currentThread().interrupt();
            return Optional.empty();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    /**
     * The tensors a client needs to hold {@code version}: a delta from {@code haveVersion} when the
     * coordinator can build one (low-rank residual factors when smaller than dense), else full state.
     */
    ModelBundle modelBundle(AuthenticatedClient client, String federationId, long version, long haveVersion);

    /**
     * What {@link #modelBundle} would send, for its manifest alone (DownloadModel with {@code manifest_only}): nothing
     * is counted as sent. With version 0 and no version held, the full state an agent checks its own copy of the
     * base model against before it asks for a delta from version 0.
     */
    ModelBundle modelManifest(AuthenticatedClient client, String federationId, long version, long haveVersion);

    /**
     * Called when an upload's header arrives, before its data: rejects uploads that cannot be accepted
     * (unknown federation/round, client not selected, round closed, wrong tensor names/shapes/dtypes,
     * oversize) so the client is told early. Returns the earlier receipt if this upload id was already
     * accepted (idempotent retry).
     */
    Optional<UploadReceiptInfo> checkUpload(AuthenticatedClient client, UpdateHeaderInfo header);

    /**
     * Validates (finite values, norm bound, shapes) and durably stores a complete update: blob files
     * fsynced, then the row committed. Only then may the transport acknowledge it. Idempotent per
     * (client, round, upload id). {@code uploadSha256} is the whole upload's checksum, already verified by the
     * transport against the bytes received; it is recorded with the update. The gRPC transport frees the tensors'
     * arrays once this returns: whatever keeps them copies them.
     */
    UploadReceiptInfo acceptUpload(AuthenticatedClient client, UpdateHeaderInfo header, String uploadSha256,
                                   Map<String, DecodedTensor> tensors);

    /** Records a federated evaluation of a published version; returns false for a duplicate report. */
    boolean recordEvaluation(AuthenticatedClient client, EvaluationInfo evaluation);
}
