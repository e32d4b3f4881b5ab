package io.fedlora.demo.bench;

import com.google.protobuf.ByteString;
import io.fedlora.aggregation.basemodel.Difference;
import io.fedlora.aggregation.basemodel.LocalBaseModel;
import io.fedlora.proto.v1.DownloadRequest;
import io.fedlora.proto.v1.EnrolRequest;
import io.fedlora.proto.v1.EnrolResponse;
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
import io.fedlora.proto.v1.UpdateTrailer;
import io.fedlora.proto.v1.UploadReceipt;
import io.fedlora.proto.v1.UploadReply;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One simulated client over its own gRPC connection, as an agent behaves: enrol, heartbeat on the interval the
 * coordinator asks for, long-poll for tasks, download the task's version, upload valid random factors with an
 * example count, until DONE. A refused or failed call is counted and retried with back-off, never fatal.
 */
final class SimulatedAgent {

    private static final Logger log = LoggerFactory.getLogger(SimulatedAgent.class);
    private static final int CHUNK = 1 << 20;
    private static final Metadata.Key<String> AUTH = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

    private final int index;
    private final long seed;
    private final String token;
    private final ManagedChannel channel;
    private final BenchStats stats;
    private final ScheduledExecutorService heartbeats;
    /** The base model this client holds on its own disk (--clients-hold-base), or null. */
    private final LocalBaseModel base;
    private FederationGrpc.FederationBlockingStub blocking;
    private FederationGrpc.FederationStub async;
    private volatile long cachedVersion = -1;
    private volatile String state = "idle";
    private volatile long interval = 5000;
    private volatile ScheduledFuture<?> nextBeat;
    private volatile boolean stopped;

    SimulatedAgent(int index, long seed, String grpcAddress, String token, BenchStats stats,
            ScheduledExecutorService heartbeats, LocalBaseModel base) {
        this.index = index;
        this.base = base;
        this.seed = seed;
        this.token = token;
        this.stats = stats;
        this.heartbeats = heartbeats;
        String[] hp = grpcAddress.split(":");
        this.channel = NettyChannelBuilder.forAddress(hp[0], Integer.parseInt(hp[1])).usePlaintext()
                .maxInboundMessageSize(8 << 20).build();
    }

    /** Runs to DONE; returns the number of updates accepted from this client. */
    int run() throws InterruptedException {
        try {
            FederationGrpc.FederationBlockingStub anonymous = FederationGrpc.newBlockingStub(channel);
            EnrolResponse e = retry("Enrol", () -> anonymous.withDeadlineAfter(60, TimeUnit.SECONDS).enrol(EnrolRequest
                    .newBuilder().setEnrolmentToken(token).setClientName(String.format("bench-%05d", index))
                    .putLabels("bench", "federation").build()));
            Metadata md = new Metadata();
            md.put(AUTH, "Bearer " + e.getCredential());
            blocking = FederationGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
            async = FederationGrpc.newStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
            interval = Math.max(200, Math.min(10_000, retry("Heartbeat", this::heartbeat)));
            nextBeat = heartbeats.schedule(this::heartbeatAsync, interval, TimeUnit.MILLISECONDS);
            int accepted = 0;
            while (true) {
                TaskResponse t = retry("GetTask", () -> blocking.withDeadlineAfter(60, TimeUnit.SECONDS)
                        .getTask(TaskRequest.newBuilder().setWaitMs(20_000).setCachedModelVersion(cachedVersion).build()));
                if (t.getKind() == TaskKind.DONE) {
                    return accepted;
                }
                if (t.getKind() == TaskKind.TRAIN) {
                    stats.taskSeen(t.getRound(), System.currentTimeMillis());
                    stats.expected.putIfAbsent(t.getRound(), t.getExpectedUpdateList());
                    stats.plan = t.getPlan();
                    state = "training";
                    download(t);
                    UploadReceipt r = upload(t);
                    stats.receipt(t.getRound(), System.currentTimeMillis());
                    accepted += r.getDuplicate() ? 0 : 1;
                    state = "idle";
                }
            }
        } finally {
            stopped = true;
            ScheduledFuture<?> beat = nextBeat;
            if (beat != null) {
                beat.cancel(false);
            }
            channel.shutdownNow();
            channel.awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private long heartbeat() {
        long t0 = System.nanoTime();
        HeartbeatResponse r = blocking.withDeadlineAfter(30, TimeUnit.SECONDS).heartbeat(HeartbeatRequest.newBuilder()
                .setState(state).setCachedModelVersion(cachedVersion).setDevice("bench").build());
        stats.heartbeatMicros.add((System.nanoTime() - t0) / 1000);
        return r.getIntervalMs() > 0 ? r.getIntervalMs() : 5000;
    }

    /**
     * One heartbeat without holding a thread, as an agent's own heartbeat thread sends them: one outstanding at a
     * time, the next {@code interval} after the answer. (Blocking beats on a small shared pool queued a thousand
     * clients' beats behind each other, so they went out late and the coordinator saw clients drop out.)
     */
    private void heartbeatAsync() {
        if (stopped) {
            return;
        }
        long t0 = System.nanoTime();
        async.withDeadlineAfter(30, TimeUnit.SECONDS).heartbeat(HeartbeatRequest.newBuilder().setState(state)
                .setCachedModelVersion(cachedVersion).setDevice("bench").build(), new StreamObserver<>() {
                    @Override public void onNext(HeartbeatResponse r) {
                        stats.heartbeatMicros.add((System.nanoTime() - t0) / 1000);
                        if (r.getIntervalMs() > 0) {
                            interval = Math.max(200, Math.min(10_000, r.getIntervalMs()));
                        }
                    }
                    @Override public void onError(Throwable e) {
                        if (!stopped) {
                            stats.error("Heartbeat", Status.fromThrowable(e).getCode().name());
                        }
                        scheduleNext();
                    }
                    @Override public void onCompleted() {
                        scheduleNext();
                    }
                });
    }

    private void scheduleNext() {
        if (!stopped) {
            try {
                nextBeat = heartbeats.schedule(this::heartbeatAsync, interval, TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // the benchmark is over
            }
        }
    }

    private void download(TaskResponse t) throws InterruptedException {
        long have = cachedVersion < 0 && base != null ? installedBase(t.getFederationId()) : cachedVersion;
        retry("DownloadModel", () -> {
            Iterator<ModelChunk> it = blocking.withDeadlineAfter(600, TimeUnit.SECONDS).downloadModel(DownloadRequest
                    .newBuilder().setFederationId(t.getFederationId()).setModelVersion(t.getModelVersion())
                    .setHaveVersion(have).build());
            long wire = 0;
            long raw = 0;
            while (it.hasNext()) {
                ModelChunk c = it.next();
                wire += c.getSerializedSize();
                if (c.hasManifest()) {
                    raw = c.getManifest().getTotalBytes();
                }
            }
            stats.downloadWireBytes.add(wire);
            stats.downloadRawBytes.add(raw);
            return null;
        });
        cachedVersion = t.getModelVersion();
    }

    /**
     * What an agent started with {@code --base-model} does before its first download: asks for the manifest of version
     * 0's full state, checks its own copy against it ({@link LocalBaseModel}, digests remembered across the clients)
     * and then holds version 0 (0), or downloads everything (-1) when the copy differs.
     */
    private long installedBase(String federationId) throws InterruptedException {
        ModelManifest manifest = retry("DownloadModel(manifest_only)", () -> {
            Iterator<ModelChunk> it = blocking.withDeadlineAfter(120, TimeUnit.SECONDS).downloadModel(DownloadRequest
                    .newBuilder().setFederationId(federationId).setModelVersion(0).setHaveVersion(-1)
                    .setManifestOnly(true).build());
            ModelManifest m = it.next().getManifest();
            while (it.hasNext()) {
                it.next();
            }
            return m;
        });
        try {
            Optional<Difference> d = base.firstDifference(BaseManifest.expected(manifest));
            if (d.isEmpty()) {
                stats.baseMatched.increment();
                return 0;
            }
            stats.baseDiffered.increment();
            log.warn("client {}: the local base model is not the federation's ({}); downloading the full state", index, d.get());
        } catch (java.io.IOException e) {
            stats.baseDiffered.increment();
            log.warn("client {}: cannot check the local base model ({}); downloading the full state", index, e.toString());
        }
        return -1;
    }

    private UploadReceipt upload(TaskResponse t) throws InterruptedException {
        String uploadId = UUID.randomUUID().toString();
        return retry("Upload", () -> uploadOnce(t, uploadId));
    }

    private UploadReceipt uploadOnce(TaskResponse t, String uploadId) {
        MessageDigest whole = sha256();
        UpdateHeader.Builder h = UpdateHeader.newBuilder().setFederationId(t.getFederationId()).setRound(t.getRound())
                .setUploadId(uploadId).setNumExamples(ClientFactors.examples(seed, index))
                .setBaseModelVersion(t.getModelVersion()).putMetrics("train_loss", 1.0);
        byte[][] bytes = new byte[t.getExpectedUpdateCount()][];
        for (int i = 0; i < bytes.length; i++) {
            TensorMeta m = t.getExpectedUpdate(i);
            bytes[i] = ClientFactors.littleEndian(ClientFactors.values(seed, index, t.getRound(), i, m));
            h.addTensors(m.toBuilder().setSha256(HexFormat.of().formatHex(sha256().digest(bytes[i])))
                    .setByteSize(bytes[i].length));
        }
        CompletableFuture<UploadReceipt> done = new CompletableFuture<>();
        CompletableFuture<Void> admitted = new CompletableFuture<>();
        StreamObserver<UpdateChunk> out = async.withDeadlineAfter(300, TimeUnit.SECONDS)
                .upload(new StreamObserver<>() {
                    @Override public void onNext(UploadReply r) {
                        switch (r.getPartCase()) {
                            case ADMITTED -> admitted.complete(null);
                            case RECEIPT -> {
                                done.complete(r.getReceipt());
                                admitted.complete(null);
                            }
                            default -> { }
                        }
                    }
                    @Override public void onError(Throwable e) {
                        done.completeExceptionally(e);
                        admitted.complete(null);
                    }
                    @Override public void onCompleted() {
                        if (!done.isDone()) {
                            done.completeExceptionally(Status.INTERNAL.withDescription("no receipt").asRuntimeException());
                        }
                        admitted.complete(null);
                    }
                });
        long wire = 0;
        long raw = 0;
        UpdateChunk header = UpdateChunk.newBuilder().setHeader(h).build();
        wire += header.getSerializedSize();
        out.onNext(header);
        try {
            admitted.get(300, TimeUnit.SECONDS); // as an agent does: no tensor bytes before the coordinator admits them
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException | InterruptedException e) {
            out.onError(e);
            throw Status.DEADLINE_EXCEEDED.withDescription("not admitted in 300 s").asRuntimeException();
        }
        if (done.isDone()) {
            return finished(done, wire, raw); // refused on its header, or already accepted
        }
        for (int i = 0; i < bytes.length; i++) {
            whole.update(bytes[i]);
            raw += bytes[i].length;
            for (int off = 0; off < bytes[i].length; off += CHUNK) {
                int len = Math.min(CHUNK, bytes[i].length - off);
                UpdateChunk c = UpdateChunk.newBuilder().setData(TensorData.newBuilder().setTensorIndex(i).setOffset(off)
                        .setData(ByteString.copyFrom(bytes[i], off, len))).build();
                wire += c.getSerializedSize();
                out.onNext(c);
            }
        }
        UpdateChunk trailer = UpdateChunk.newBuilder().setTrailer(UpdateTrailer.newBuilder()
                .setUploadSha256(HexFormat.of().formatHex(whole.digest()))).build();
        wire += trailer.getSerializedSize();
        out.onNext(trailer);
        out.onCompleted();
        return finished(done, wire, raw);
    }

    private UploadReceipt finished(CompletableFuture<UploadReceipt> done, long wire, long raw) {
        try {
            UploadReceipt r = done.get(300, TimeUnit.SECONDS);
            stats.uploadWireBytes.add(wire);
            stats.uploadRawBytes.add(raw);
            return r;
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof StatusRuntimeException s ? s : new RuntimeException(e.getCause());
        } catch (java.util.concurrent.TimeoutException | InterruptedException e) {
            throw Status.DEADLINE_EXCEEDED.withDescription("no receipt in 300 s").asRuntimeException();
        }
    }

    /** Calls until it succeeds; refusals and transient errors are counted and retried with back-off. */
    private <T> T retry(String call, Supplier<T> body) throws InterruptedException {
        long backoff = 200;
        for (int attempt = 1; ; attempt++) {
            try {
                return body.get();
            } catch (StatusRuntimeException e) {
                Status.Code code = e.getStatus().getCode();
                stats.error(call, code.name());
                boolean transientError = code == Status.Code.RESOURCE_EXHAUSTED || code == Status.Code.UNAVAILABLE
                        || code == Status.Code.DEADLINE_EXCEEDED || code == Status.Code.ABORTED;
                if (!transientError || attempt >= 30) {
                    throw e;
                }
                Thread.sleep(backoff + (long) (Math.random() * backoff));
                backoff = Math.min(5000, backoff * 2);
            }
        }
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    FederationGrpc.FederationBlockingStub stub() {
        return blocking;
    }
}
