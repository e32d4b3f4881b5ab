package io.fedlora.agent.daemon;

import com.google.protobuf.ByteString;
import io.fedlora.proto.v1.DownloadRequest;
import io.fedlora.proto.v1.EnrolRequest;
import io.fedlora.proto.v1.EnrolResponse;
import io.fedlora.proto.v1.EvaluationAck;
import io.fedlora.proto.v1.EvaluationReport;
import io.fedlora.proto.v1.FederationGrpc;
import io.fedlora.proto.v1.HeartbeatRequest;
import io.fedlora.proto.v1.HeartbeatResponse;
import io.fedlora.proto.v1.ModelChunk;
import io.fedlora.proto.v1.ModelManifest;
import io.fedlora.proto.v1.TaskKind;
import io.fedlora.proto.v1.TaskRequest;
import io.fedlora.proto.v1.TaskResponse;
import io.fedlora.proto.v1.TensorData;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.UpdateChunk;
import io.fedlora.proto.v1.UpdateHeader;
import io.fedlora.proto.v1.UploadAdmitted;
import io.fedlora.proto.v1.UploadQueued;
import io.fedlora.proto.v1.UploadReceipt;
import io.fedlora.proto.v1.UploadReply;
import io.grpc.Contexts;
import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;

/**
 * The coordinator's stand-in at unit level: a real gRPC server on loopback implementing the proto with
 * behaviour each test scripts, recording what the agent sent. (The real coordinator runs in integration-tests.)
 */
final class ScriptedCoordinator extends FederationGrpc.FederationImplBase implements AutoCloseable {

    static final String CLIENT_ID = "client-7";
    static final String CREDENTIAL = "s3cret-credential-value";
    static final String FEDERATION = "fed-1";
    private static final Context.Key<String> AUTH = Context.key("authorization");
    private static final Metadata.Key<String> AUTH_HEADER = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    /** One upload attempt as the server saw it. */
    record UploadAttempt(UpdateHeader header, List<TensorData> data, String trailerSha256, String authorization,
                         long startedNanos, String method, int dataBeforeAdmission) {}

    final AtomicInteger enrolCalls = new AtomicInteger();
    final List<String> enrolTokens = new CopyOnWriteArrayList<>();
    final List<String> authHeaders = new CopyOnWriteArrayList<>();
    final List<HeartbeatRequest> heartbeats = new CopyOnWriteArrayList<>();
    final List<DownloadRequest> downloads = new CopyOnWriteArrayList<>();
    final List<UploadAttempt> uploads = new CopyOnWriteArrayList<>();
    final List<EvaluationReport> evaluations = new CopyOnWriteArrayList<>();
    final ConcurrentLinkedQueue<TaskResponse> tasks = new ConcurrentLinkedQueue<>();
    final Map<Long, List<ModelChunk>> bundles = Collections.synchronizedMap(new HashMap<>());
    /** Bundles sent only for a given (version, have_version), by "version/have". */
    final Map<String, List<ModelChunk>> deltas = Collections.synchronizedMap(new HashMap<>());
    private final Map<Long, List<ModelChunk>> fullStates = Collections.synchronizedMap(new HashMap<>());
    /** Status to fail upload attempt n (0-based) with after reading it, or null to accept it. */
    volatile IntFunction<Status> uploadFailure = n -> null;
    /** When true the server has no Upload call (UNIMPLEMENTED), like a coordinator from before it. */
    volatile boolean legacyUploadOnly;
    final AtomicInteger uploadCallsRefused = new AtomicInteger();
    final AtomicInteger headersSeen = new AtomicInteger();
    /** While non-null, an Upload is answered queued and admitted only once this opens. */
    volatile CountDownLatch admission;
    /** Status to fail every Enrol with while non-null. */
    volatile Status enrolFailure;
    /** When the task queue is empty: hold the poll and answer WAIT (true) or answer DONE (false). */
    volatile boolean waitWhenIdle;
    /** Status to fail every GetTask with while non-null. */
    volatile Status getTaskFailure;
    /** Status to refuse GetTask call n (0-based, counted over all calls) with, or null to serve it. */
    volatile IntFunction<Status> getTaskRefusal = n -> null;
    /** When each GetTask call arrived ({@link System#nanoTime()}). */
    final List<Long> getTaskArrivals = new CopyOnWriteArrayList<>();

    private final Server server;

    ScriptedCoordinator() throws IOException {
        this(null);
    }

    /** With {@code tls} set the server speaks TLS (and requires client certificates if the context says so). */
    ScriptedCoordinator(io.netty.handler.ssl.SslContext tls) throws IOException {
        ServerInterceptor captureAuth = new ServerInterceptor() {
            @Override
            public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(io.grpc.ServerCall<Q, R> call, Metadata headers,
                                                                        io.grpc.ServerCallHandler<Q, R> next) {
                String auth = headers.get(AUTH_HEADER);
                return Contexts.interceptCall(Context.current().withValue(AUTH, auth), call, headers, next);
            }
        };
        NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(ServerInterceptors.intercept(this, captureAuth));
        if (tls != null) {
            builder.sslContext(tls);
        }
        server = builder.build().start();
    }

    String target() {
        return "127.0.0.1:" + server.getPort();
    }

    private boolean authorized(StreamObserver<?> observer) {
        String auth = AUTH.get();
        authHeaders.add(String.valueOf(auth));
        if (!("Bearer " + CREDENTIAL).equals(auth)) {
            observer.onError(Status.UNAUTHENTICATED.withDescription("bad credential").asRuntimeException());
            return false;
        }
        return true;
    }

    @Override
    public void enrol(EnrolRequest request, StreamObserver<EnrolResponse> out) {
        enrolCalls.incrementAndGet();
        enrolTokens.add(request.getEnrolmentToken());
        if (enrolFailure != null) {
            out.onError(enrolFailure.asRuntimeException());
            return;
        }
        if (!request.getEnrolmentToken().equals("token-1")) {
            out.onError(Status.PERMISSION_DENIED.withDescription("unknown or used token").asRuntimeException());
            return;
        }
        out.onNext(EnrolResponse.newBuilder().setClientId(CLIENT_ID).setCredential(CREDENTIAL).setFederationId(FEDERATION).build());
        out.onCompleted();
    }

    @Override
    public void heartbeat(HeartbeatRequest request, StreamObserver<HeartbeatResponse> out) {
        if (!authorized(out)) {
            return;
        }
        heartbeats.add(request);
        out.onNext(HeartbeatResponse.newBuilder().setServerTimeUnixMs(System.currentTimeMillis()).build());
        out.onCompleted();
    }

    @Override
    public void getTask(TaskRequest request, StreamObserver<TaskResponse> out) {
        int n;
        synchronized (getTaskArrivals) {
            n = getTaskArrivals.size();
            getTaskArrivals.add(System.nanoTime());
        }
        Status refusal = getTaskRefusal.apply(n);
        if (refusal != null) {
            out.onError(refusal.asRuntimeException());
            return;
        }
        if (getTaskFailure != null) {
            out.onError(getTaskFailure.asRuntimeException());
            return;
        }
        if (!authorized(out)) {
            return;
        }
        TaskResponse next = tasks.poll();
        if (next == null && waitWhenIdle) {
            try {
                Thread.sleep(Math.min(request.getWaitMs(), 200));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            next = TaskResponse.newBuilder().setKind(TaskKind.WAIT).build();
        }
        out.onNext(next != null ? next
                : TaskResponse.newBuilder().setKind(TaskKind.DONE).setFederationId(FEDERATION).setReason("completed").build());
        out.onCompleted();
    }

    @Override
    public void downloadModel(DownloadRequest request, StreamObserver<ModelChunk> out) {
        if (!authorized(out)) {
            return;
        }
        downloads.add(request);
        List<ModelChunk> chunks = request.getManifestOnly() ? null
                : deltas.get(request.getModelVersion() + "/" + request.getHaveVersion());
        if (chunks == null) {
            chunks = bundles.get(request.getModelVersion());
        }
        if (chunks == null) {
            out.onError(Status.NOT_FOUND.withDescription("no version " + request.getModelVersion()).asRuntimeException());
            return;
        }
        (request.getManifestOnly() ? chunks.subList(0, 1) : chunks).forEach(out::onNext);
        out.onCompleted();
    }

    @Override
    public StreamObserver<UpdateChunk> uploadUpdate(StreamObserver<UploadReceipt> out) {
        return recordUpload("UploadUpdate", null, receipt -> {
            out.onNext(receipt);
            out.onCompleted();
        }, out::onError);
    }

    @Override
    public StreamObserver<UpdateChunk> upload(StreamObserver<UploadReply> out) {
        if (legacyUploadOnly) {
            uploadCallsRefused.incrementAndGet();
            out.onError(Status.UNIMPLEMENTED.withDescription("Method not found: fedlora.v1.Federation/Upload")
                    .asRuntimeException());
            return new StreamObserver<>() {
                @Override public void onNext(UpdateChunk value) { }
                @Override public void onError(Throwable t) { }
                @Override public void onCompleted() { }
            };
        }
        return recordUpload("Upload", () -> {
            CountDownLatch gate = admission;
            if (gate == null) {
                out.onNext(UploadReply.newBuilder().setAdmitted(UploadAdmitted.getDefaultInstance()).build());
                return;
            }
            out.onNext(UploadReply.newBuilder().setQueued(UploadQueued.newBuilder().setAhead(3)).build());
            Thread admit = new Thread(() -> {
                try {
                    gate.await();
                    synchronized (out) {
                        out.onNext(UploadReply.newBuilder().setAdmitted(UploadAdmitted.getDefaultInstance()).build());
                    }
                } catch (InterruptedException | RuntimeException e) {
                    // the test is over or the call went away
                }
            });
            admit.setDaemon(true);
            admit.start();
        }, receipt -> {
            synchronized (out) {
                out.onNext(UploadReply.newBuilder().setReceipt(receipt).build());
                out.onCompleted();
            }
        }, out::onError);
    }

    /** An upload that records what it got; {@code onHeader} admits it (Upload only). */
    private StreamObserver<UpdateChunk> recordUpload(String method, Runnable onHeader,
            java.util.function.Consumer<UploadReceipt> answer, java.util.function.Consumer<Throwable> fail) {
        String auth = AUTH.get();
        int attempt = uploads.size();
        long started = System.nanoTime();
        List<TensorData> data = new ArrayList<>();
        UpdateHeader[] header = new UpdateHeader[1];
        return new StreamObserver<>() {
            String trailer;
            int beforeAdmission;

            @Override
            public void onNext(UpdateChunk chunk) {
                switch (chunk.getPartCase()) {
                    case HEADER -> {
                        header[0] = chunk.getHeader();
                        headersSeen.incrementAndGet();
                        if (onHeader != null) {
                            onHeader.run();
                        }
                    }
                    case DATA -> {
                        data.add(chunk.getData());
                        CountDownLatch gate = admission;
                        if (onHeader != null && gate != null && gate.getCount() > 0) {
                            beforeAdmission++;
                        }
                    }
                    case TRAILER -> trailer = chunk.getTrailer().getUploadSha256();
                    default -> { }
                }
            }

            @Override
            public void onError(Throwable t) {
                uploads.add(new UploadAttempt(header[0], data, null, auth, started, method, beforeAdmission));
            }

            @Override
            public void onCompleted() {
                uploads.add(new UploadAttempt(header[0], data, trailer, auth, started, method, beforeAdmission));
                Status failure = uploadFailure.apply(attempt);
                if (failure != null) {
                    fail.accept(failure.asRuntimeException());
                    return;
                }
                long bytes = data.stream().mapToLong(d -> d.getData().size()).sum();
                boolean duplicate = uploads.stream().limit(attempt).anyMatch(u -> u.header() != null
                        && u.header().getUploadId().equals(header[0].getUploadId()));
                answer.accept(UploadReceipt.newBuilder().setUpdateId("update-" + header[0].getUploadId())
                        .setDuplicate(duplicate).setBytesReceived(bytes).build());
            }
        };
    }

    @Override
    public void reportEvaluation(EvaluationReport request, StreamObserver<EvaluationAck> out) {
        if (!authorized(out)) {
            return;
        }
        evaluations.add(request);
        out.onNext(EvaluationAck.newBuilder().build());
        out.onCompleted();
    }

    /** Milliseconds between the starts of consecutive upload attempts. */
    List<Long> gapsMs() {
        List<Long> gaps = new ArrayList<>();
        for (int i = 1; i < uploads.size(); i++) {
            gaps.add((uploads.get(i).startedNanos() - uploads.get(i - 1).startedNanos()) / 1_000_000);
        }
        return gaps;
    }

    /**
     * Publishes a delta sent only to a client that says it holds {@code baseVersion} (others get what {@link #serve}
     * published); a manifest_only request always gets the manifest of {@link #serve}'s bundle.
     */
    void serveDelta(String federation, long version, long baseVersion, List<BundleTensor> tensors, int chunkBytes) {
        serve(federation, version, baseVersion, tensors, chunkBytes);
        deltas.put(version + "/" + baseVersion, bundles.remove(version));
        if (fullStates.containsKey(version)) {
            bundles.put(version, fullStates.get(version));
        }
    }

    /** Publishes a bundle: manifest, then each tensor's bytes in chunks of {@code chunkBytes}. */
    void serve(String federation, long version, long baseVersion, List<BundleTensor> tensors, int chunkBytes) {
        ModelManifest.Builder manifest = ModelManifest.newBuilder()
                .setFederationId(federation).setModelVersion(version).setBaseVersion(baseVersion);
        long total = 0;
        for (BundleTensor t : tensors) {
            manifest.addTensors(t.meta());
            total += t.bytes().length;
        }
        List<ModelChunk> chunks = new ArrayList<>();
        chunks.add(ModelChunk.newBuilder().setManifest(manifest.setTotalBytes(total)).build());
        for (int i = 0; i < tensors.size(); i++) {
            byte[] b = tensors.get(i).bytes();
            for (int off = 0; off < b.length; off += chunkBytes) {
                int len = Math.min(chunkBytes, b.length - off);
                chunks.add(ModelChunk.newBuilder().setData(TensorData.newBuilder().setTensorIndex(i).setOffset(off)
                        .setData(ByteString.copyFrom(b, off, len))).build());
            }
        }
        bundles.put(version, chunks);
        if (baseVersion < 0) {
            fullStates.put(version, chunks);
        }
    }

    /** A tensor as the coordinator would send it: its manifest entry (with sha256 and size) and its bytes. */
    record BundleTensor(TensorMeta meta, byte[] bytes) {}

    @Override
    public void close() throws InterruptedException {
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
    }
}
