package io.fedlora.agent.daemon.transport;

import io.fedlora.agent.daemon.AgentProperties;
import io.fedlora.proto.v1.DownloadRequest;
import io.fedlora.proto.v1.EnrolRequest;
import io.fedlora.proto.v1.EnrolResponse;
import io.fedlora.proto.v1.EvaluationAck;
import io.fedlora.proto.v1.EvaluationReport;
import io.fedlora.proto.v1.FederationGrpc;
import io.fedlora.proto.v1.HeartbeatRequest;
import io.fedlora.proto.v1.HeartbeatResponse;
import io.fedlora.proto.v1.ModelChunk;
import io.fedlora.proto.v1.TaskRequest;
import io.fedlora.proto.v1.TaskResponse;
import io.fedlora.proto.v1.UpdateChunk;
import io.fedlora.proto.v1.UploadReceipt;
import io.grpc.Channel;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The agent's side of {@code fedlora.v1.Federation}: one method per RPC, each with a deadline, each
 * retried with backoff while the coordinator is unreachable. Authenticated calls carry the bearer
 * credential set by {@link #useCredential(String)}.
 */
public final class CoordinatorClient {

    private final FederationGrpc.FederationBlockingStub anonymous;
    private final FederationGrpc.FederationBlockingStub blocking;
    private final FederationGrpc.FederationStub async;
    private final AtomicReference<String> credential = new AtomicReference<>();
    private final Retrier retrier;
    private final AgentProperties props;

    public CoordinatorClient(Channel channel, AgentProperties props) {
        this.props = props;
        this.retrier = new Retrier(props.retry(), channel.authority());
        BearerCredentials bearer = new BearerCredentials(credential::get);
        this.anonymous = FederationGrpc.newBlockingStub(channel);
        this.blocking = FederationGrpc.newBlockingStub(channel).withCallCredentials(bearer);
        this.async = FederationGrpc.newStub(channel).withCallCredentials(bearer);
    }

    /** Sets the credential that authenticated calls present from now on. */
    public void useCredential(String value) {
        credential.set(value);
    }

    public EnrolResponse enrol(String token, String clientName, Map<String, String> labels) throws InterruptedException {
        EnrolRequest request = EnrolRequest.newBuilder()
                .setEnrolmentToken(token).setClientName(clientName).putAllLabels(labels).build();
        return retrier.call("Enrol", () -> anonymous.withDeadlineAfter(millis(props.rpcTimeout()), TimeUnit.MILLISECONDS)
                .enrol(request));
    }

    /** One attempt only: the next heartbeat is the retry. */
    public HeartbeatResponse heartbeat(HeartbeatRequest request) {
        return blocking.withDeadlineAfter(millis(props.rpcTimeout()), TimeUnit.MILLISECONDS).heartbeat(request);
    }

    /** Long poll for work; keeps retrying while the coordinator is down, until interrupted. */
    public TaskResponse getTask(long cachedModelVersion) throws InterruptedException {
        long waitMs = millis(props.pollWait());
        TaskRequest request = TaskRequest.newBuilder()
                .setWaitMs((int) Math.min(Integer.MAX_VALUE, waitMs)).setCachedModelVersion(cachedModelVersion).build();
        long deadline = waitMs + millis(props.rpcTimeout());
        return retrier.pollUntilAnswered("GetTask",
                () -> blocking.withDeadlineAfter(deadline, TimeUnit.MILLISECONDS).getTask(request));
    }

    /**
     * Streams a model version into {@code reader}, which consumes the chunks of one attempt and returns
     * its result. A broken stream is retried from the start with a fresh {@code reader} call; an
     * exception thrown by the reader cancels the stream and is not retried.
     */
    public <T> T download(DownloadRequest request, Function<Iterator<ModelChunk>, T> reader) throws InterruptedException {
        return retrier.call("DownloadModel v" + request.getModelVersion(), () -> {
            Context.CancellableContext ctx = Context.current().withCancellation();
            try {
                return ctx.call(() -> reader.apply(blocking
                        .withDeadlineAfter(millis(props.transferTimeout()), TimeUnit.MILLISECONDS)
                        .downloadModel(request)));
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            } finally {
                ctx.cancel(null);
            }
        });
    }

    /**
     * Sends one update as a client stream, honouring flow control, and returns the coordinator's receipt.
     * {@code chunks} is asked for a fresh sequence (header, data, trailer) on every attempt.
     */
    public UploadReceipt upload(String what, Supplier<Iterator<UpdateChunk>> chunks) throws InterruptedException {
        return retrier.call(what, () -> uploadOnce(chunks.get()));
    }

    public EvaluationAck reportEvaluation(EvaluationReport report) throws InterruptedException {
        return retrier.call("ReportEvaluation round " + report.getRound(),
                () -> blocking.withDeadlineAfter(millis(props.rpcTimeout()), TimeUnit.MILLISECONDS).reportEvaluation(report));
    }

    private UploadReceipt uploadOnce(Iterator<UpdateChunk> chunks) {
        CompletableFuture<UploadReceipt> result = new CompletableFuture<>();
        FlowControlledSender sender = new FlowControlledSender(chunks, result);
        async.withDeadlineAfter(millis(props.transferTimeout()), TimeUnit.MILLISECONDS).uploadUpdate(sender);
        try {
            return result.get();
        } catch (InterruptedException e) {
            sender.cancel("agent is shutting down");
            Thread.currentThread().interrupt();
            throw Status.CANCELLED.withDescription("upload interrupted").asRuntimeException();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof StatusRuntimeException sre) {
                throw sre;
            }
            throw Status.fromThrowable(cause).asRuntimeException();
        }
    }

    private static long millis(Duration d) {
        return Math.max(1, d.toMillis());
    }

    /** Writes chunks only while the transport is ready, so a large update never piles up in memory. */
    private static final class FlowControlledSender implements ClientResponseObserver<UpdateChunk, UploadReceipt> {
        private final Iterator<UpdateChunk> chunks;
        private final CompletableFuture<UploadReceipt> result;
        private ClientCallStreamObserver<UpdateChunk> requests;
        private boolean finished;

        FlowControlledSender(Iterator<UpdateChunk> chunks, CompletableFuture<UploadReceipt> result) {
            this.chunks = chunks;
            this.result = result;
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<UpdateChunk> requestStream) {
            this.requests = requestStream;
            requestStream.setOnReadyHandler(this::pump);
        }

        private synchronized void pump() {
            if (finished) {
                return;
            }
            try {
                while (requests.isReady() && chunks.hasNext()) {
                    requests.onNext(chunks.next());
                }
                if (!chunks.hasNext()) {
                    finished = true;
                    requests.onCompleted();
                }
            } catch (RuntimeException e) {
                finished = true;
                requests.cancel("agent could not read its update: " + e.getMessage(), e);
                result.completeExceptionally(Status.INTERNAL
                        .withDescription("reading the update failed: " + e.getMessage()).withCause(e).asRuntimeException());
            }
        }

        synchronized void cancel(String why) {
            finished = true;
            if (requests != null) {
                requests.cancel(why, null);
            }
        }

        @Override
        public void onNext(UploadReceipt receipt) {
            result.complete(receipt);
        }

        @Override
        public void onError(Throwable t) {
            result.completeExceptionally(t);
        }

        @Override
        public void onCompleted() {
            if (!result.isDone()) {
                result.completeExceptionally(Status.INTERNAL.withDescription("coordinator sent no receipt").asRuntimeException());
            }
        }
    }
}
