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
import io.fedlora.proto.v1.UploadReply;
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
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's side of {@code fedlora.v1.Federation}: one method per RPC, each with a deadline, each
 * retried with backoff while the coordinator is unreachable. Authenticated calls carry the bearer
 * credential set by {@link #useCredential(String)}.
 */
public final class CoordinatorClient {

    private static final Logger log = LoggerFactory.getLogger(CoordinatorClient.class);

    private final FederationGrpc.FederationBlockingStub anonymous;
    private final FederationGrpc.FederationBlockingStub blocking;
    private final FederationGrpc.FederationStub async;
    private final AtomicReference<String> credential = new AtomicReference<>();
    private final AtomicBoolean legacyUpload = new AtomicBoolean();
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
     * Sends one update (the Upload call; UploadUpdate to a coordinator without it), honouring flow control and the
     * coordinator's admission, and returns its receipt.
     * {@code chunks} is asked for a fresh sequence (header, data, trailer) on every attempt.
     */
    public UploadReceipt upload(String what, Supplier<Iterator<UpdateChunk>> chunks) throws InterruptedException {
        return upload(what, chunks, UploadListener.NONE);
    }

    /** As above, telling {@code listener} when the coordinator queues and admits the upload (e.g. for the agent's state). */
    public UploadReceipt upload(String what, Supplier<Iterator<UpdateChunk>> chunks, UploadListener listener)
            throws InterruptedException {
        return retrier.call(what, () -> uploadOnce(chunks, listener));
    }

    /** What the coordinator said of an upload before its data went: it waits behind others, then may send. */
    public interface UploadListener {
        UploadListener NONE = new UploadListener() {
            @Override
            public void queued(int ahead) {
            }

            @Override
            public void admitted() {
            }
        };

        void queued(int ahead);

        void admitted();
    }

    public EvaluationAck reportEvaluation(EvaluationReport report) throws InterruptedException {
        return retrier.call("ReportEvaluation round " + report.getRound(),
                () -> blocking.withDeadlineAfter(millis(props.rpcTimeout()), TimeUnit.MILLISECONDS).reportEvaluation(report));
    }

    private UploadReceipt uploadOnce(Supplier<Iterator<UpdateChunk>> chunks, UploadListener listener) {
        if (!legacyUpload.get()) {
            try {
                return await(UploadStream.admitted(chunks.get(), listener),
                        s -> deadline(async, props.transferTimeout()).upload(s));
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() != Status.Code.UNIMPLEMENTED) {
                    throw e;
                }
                // a coordinator from before the Upload call: its client stream, from now on
                log.info("the coordinator has no Upload call; sending updates with UploadUpdate");
                legacyUpload.set(true);
            }
        }
        return await(UploadStream.legacy(chunks.get(), listener),
                s -> deadline(async, props.transferTimeout()).uploadUpdate(s.receiptOnly()));
    }

    private static FederationGrpc.FederationStub deadline(FederationGrpc.FederationStub stub, Duration timeout) {
        return stub.withDeadlineAfter(millis(timeout), TimeUnit.MILLISECONDS);
    }

    private static UploadReceipt await(UploadStream stream, java.util.function.Consumer<UploadStream> startCall) {
        startCall.accept(stream);
        try {
            return stream.result.get();
        } catch (InterruptedException e) {
            stream.cancel("agent is shutting down");
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

    /**
     * One upload call. It writes chunks only while the transport is ready, so a large update never piles up in memory,
     * and on the Upload call only the header until the coordinator admits the upload: an upload waiting its turn sends
     * no tensor bytes. A receipt that comes first (a retry of an accepted update) ends the call with nothing more sent.
     */
    private static final class UploadStream implements ClientResponseObserver<UpdateChunk, UploadReply> {
        private final Iterator<UpdateChunk> chunks;
        private final UploadListener listener;
        private final CompletableFuture<UploadReceipt> result = new CompletableFuture<>();
        private ClientCallStreamObserver<UpdateChunk> requests;
        private boolean headerSent;
        private boolean admitted;
        private boolean finished;

        private UploadStream(Iterator<UpdateChunk> chunks, boolean admitted, UploadListener listener) {
            this.chunks = chunks;
            this.admitted = admitted;
            this.listener = listener;
        }

        static UploadStream admitted(Iterator<UpdateChunk> chunks, UploadListener listener) {
            return new UploadStream(chunks, false, listener);
        }

        /** The UploadUpdate call: its coordinator cannot say when, so everything is sent as flow control allows. */
        static UploadStream legacy(Iterator<UpdateChunk> chunks, UploadListener listener) {
            return new UploadStream(chunks, true, listener);
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
                if (!headerSent && requests.isReady() && chunks.hasNext()) {
                    requests.onNext(chunks.next());
                    headerSent = true;
                }
                if (!admitted) {
                    return;
                }
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
        public void onNext(UploadReply reply) {
            switch (reply.getPartCase()) {
                case QUEUED -> {
                    log.info("upload queued behind {} others at the coordinator", reply.getQueued().getAhead());
                    listener.queued(reply.getQueued().getAhead());
                }
                case ADMITTED -> {
                    synchronized (this) {
                        admitted = true;
                    }
                    listener.admitted();
                    pump();
                }
                case RECEIPT -> {
                    synchronized (this) {
                        finished = true; // the coordinator ends the call; nothing more to send
                    }
                    result.complete(reply.getReceipt());
                }
                case PART_NOT_SET -> {
                    cancel("coordinator sent an empty reply");
                    result.completeExceptionally(Status.INTERNAL
                            .withDescription("coordinator sent an empty upload reply").asRuntimeException());
                }
            }
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

        /** This stream as the UploadUpdate call's observer, whose only message is the receipt. */
        ClientResponseObserver<UpdateChunk, UploadReceipt> receiptOnly() {
            UploadStream self = this;
            return new ClientResponseObserver<>() {
                @Override
                public void beforeStart(ClientCallStreamObserver<UpdateChunk> requestStream) {
                    self.beforeStart(requestStream);
                }

                @Override
                public void onNext(UploadReceipt receipt) {
                    self.onNext(UploadReply.newBuilder().setReceipt(receipt).build());
                }

                @Override
                public void onError(Throwable t) {
                    self.onError(t);
                }

                @Override
                public void onCompleted() {
                    self.onCompleted();
                }
            };
        }
    }
}
