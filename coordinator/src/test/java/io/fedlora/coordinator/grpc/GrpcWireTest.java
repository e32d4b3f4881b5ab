package io.fedlora.coordinator.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.coordinator.clientapi.BundleEntry;
import io.fedlora.coordinator.clientapi.ClientTask;
import io.fedlora.coordinator.clientapi.ModelBundle;
import io.fedlora.coordinator.clientapi.TensorRole;
import io.fedlora.proto.v1.DownloadRequest;
import io.fedlora.proto.v1.EvaluationReport;
import io.fedlora.proto.v1.FederationGrpc;
import io.fedlora.proto.v1.ModelChunk;
import io.fedlora.proto.v1.TaskKind;
import io.fedlora.proto.v1.TaskRequest;
import io.fedlora.proto.v1.TaskResponse;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.UploadReceipt;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Future;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.util.unit.DataSize;

/**
 * The transport on a real loopback Netty server in front of {@link InMemoryGateway}: authentication,
 * status mapping, upload stream validation, flow-controlled downloads and long polls.
 */
class GrpcWireTest {

    private static final long MAX_UPLOAD = 256 * 1024;

    private InMemoryGateway gateway;
    private SimpleMeterRegistry registry;
    private TaskPoller poller;
    private Server server;
    private TestAgent agent;

    @BeforeEach
    void start() throws IOException {
        gateway = new InMemoryGateway();
        registry = new SimpleMeterRegistry();
        GrpcTransportProperties props = new GrpcTransportProperties(DataSize.ofBytes(MAX_UPLOAD),
                Duration.ofMillis(800), 2, 4, 1, 1, 2, DataSize.ofBytes(3L * MAX_UPLOAD), DataSize.ofKilobytes(64), DataSize.ofMegabytes(1), Duration.ofSeconds(7));
        GrpcMetrics metrics = new GrpcMetrics(registry);
        poller = new TaskPoller(gateway, props);
        var service = new FederationGrpcService(gateway, poller, metrics, props);
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(ServerInterceptors.intercept(service,
                        new BearerAuthInterceptor(gateway), new ByteCountingInterceptor(metrics)))
                .build().start();
        agent = TestAgent.connect(server.getPort());
        agent.enrol(InMemoryGateway.TOKEN, "alpha");
    }

    @AfterEach
    void stop() throws InterruptedException {
        agent.close();
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    @Test
    void enrolledClientHeartbeatsAndReportsEvaluationsOnce() {
        assertThat(agent.heartbeat("idle", -1).getIntervalMs()).isEqualTo(7000);
        assertThat(gateway.heartbeats).containsExactly("client-alpha:idle");
        EvaluationReport report = EvaluationReport.newBuilder().setFederationId(InMemoryGateway.FEDERATION)
                .setModelVersion(1).setNumExamples(10).setLoss(2.5).build();
        assertThat(agent.reportEvaluation(report).getDuplicate()).isFalse();
        assertThat(agent.reportEvaluation(report).getDuplicate()).isTrue();
    }

    @Test
    void enrolWithUnknownTokenMapsTheGatewayRefusal() throws InterruptedException {
        try (TestAgent other = TestAgent.connect(server.getPort())) {
            assertStatus(() -> other.enrol("stolen", "beta"), Status.Code.UNAUTHENTICATED, "unknown or used enrolment token");
            assertStatus(() -> other.enrol("", "beta"), Status.Code.INVALID_ARGUMENT, "enrolment_token is required");
        }
    }

    @Test
    void callsWithoutAValidCredentialNeverReachTheGateway() throws InterruptedException {
        try (TestAgent anonymous = TestAgent.connect(server.getPort())) {
            assertStatus(() -> anonymous.heartbeat("idle", -1), Status.Code.UNAUTHENTICATED, "missing 'authorization");
            anonymous.withCredential("not-a-credential");
            assertStatus(() -> anonymous.heartbeat("idle", -1), Status.Code.UNAUTHENTICATED, "unknown credential");
            assertStatus(() -> anonymous.upload(upload("u-anon", 1)), Status.Code.UNAUTHENTICATED, "unknown credential");
        }
        gateway.revoked.add("client-alpha");
        assertStatus(() -> agent.heartbeat("idle", -1), Status.Code.PERMISSION_DENIED, "client was revoked");
        assertStatus(() -> agent.poll(100, -1), Status.Code.PERMISSION_DENIED, "client was revoked");
        assertThat(gateway.heartbeats).isEmpty();
        assertThat(gateway.checkUploadCalls).hasValue(0);
    }

    @Test
    void nonBearerAuthorizationHeaderIsRefused() {
        Metadata md = new Metadata();
        md.put(BearerAuthInterceptor.AUTHORIZATION, "Basic dXNlcjpwYXNz");
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
        try {
            var stub = FederationGrpc.newBlockingStub(ch).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
            assertStatus(() -> stub.heartbeat(io.fedlora.proto.v1.HeartbeatRequest.getDefaultInstance()),
                    Status.Code.UNAUTHENTICATED, "not a Bearer credential");
        } finally {
            ch.shutdownNow();
        }
    }

    @Test
    void uploadIsReassembledDecodedAndAcknowledgedAfterAcceptance() {
        TestAgent.Upload u = upload("u-1", 1);
        UploadReceipt receipt = agent.upload(u);

        assertThat(receipt.getDuplicate()).isFalse();
        assertThat(gateway.stored).hasSize(1);
        var stored = gateway.stored.get(0);
        assertThat(stored.keySet()).containsExactly("h.0.attn.c_attn.lora_A", "h.0.attn.c_attn.lora_B");
        for (TestAgent.Tensor t : u.tensors()) {
            var decoded = stored.get(t.name());
            assertThat(decoded.values().shape()).isEqualTo(t.shape());
            assertThat(decoded.values().dup().data().asFloat()).containsExactly(t.values());
            assertThat(decoded.sha256()).hasSize(64);
        }
        // once accepted the session frees the decoded arrays' off-heap buffers instead of leaving them to a GC
        assertThat(gateway.lastAccepted.values()).allSatisfy(t -> assertThat(t.values().wasClosed()).isTrue());
        assertThat(registry.get(GrpcMetrics.BYTES).tag("direction", "in").counter().count())
                .isGreaterThan(u.tensors().stream().mapToLong(t -> t.values().length * 4L).sum());
        assertThat(registry.get(GrpcMetrics.BYTES).tag("direction", "out").counter().count()).isPositive();
    }

    @ParameterizedTest
    @CsvSource({
            "WRONG_TENSOR_SHA,   checksum, sha256 of tensor 'h.0.attn.c_attn.lora_A'",
            "WRONG_UPLOAD_SHA,   checksum, upload sha256 is",
            "GARBAGE_CHUNK,      tensor_index, chunk names tensor_index 9",
            "EMPTY_CHUNK,        protocol, neither header, data nor trailer",
            "DATA_BEFORE_HEADER, protocol, upload data arrived before the header",
            "TWO_HEADERS,        protocol, upload stream sent a second header",
            "NO_TRAILER,         protocol, upload stream ended without a trailer",
            "OFFSET_GAP,         offset, chunks must be contiguous"})
    void brokenUploadStreamsAreInvalidArgumentsAndStoreNothing(TestAgent.Fault fault, String reason, String message) {
        assertStatus(() -> agent.upload(upload("u-" + fault, 1).with(fault)), Status.Code.INVALID_ARGUMENT, message);
        assertThat(gateway.stored).isEmpty();
        assertThat(gateway.receipts).isEmpty();
        assertThat(registry.get(GrpcMetrics.REJECTED).tag("reason", reason).counter().count()).isEqualTo(1.0);
        // the channel still works and the same upload id can be sent correctly afterwards
        assertThat(agent.upload(upload("u-" + fault, 1)).getDuplicate()).isFalse();
        assertThat(gateway.stored).hasSize(1);
    }

    @Test
    void gatewayRefusalsKeepTheirCodeAndMessage() {
        assertStatus(() -> agent.upload(upload("u-r2", 2)), Status.Code.FAILED_PRECONDITION,
                "round 2 is not collecting updates");
        TestAgent.Upload nan = upload("u-nan", 1);
        nan.tensors().get(1).values()[3] = Float.NaN;
        assertStatus(() -> agent.upload(nan), Status.Code.INVALID_ARGUMENT, "holds non-finite values");
        assertThat(gateway.stored).isEmpty();
        assertThat(registry.find(GrpcMetrics.REJECTED).counters()).as("the gateway counts its own refusals").isEmpty();
    }

    @Test
    void unexpectedFailuresBecomeInternalWithoutLeakingDetails() {
        gateway.failAccept = new IllegalStateException("secret database detail");
        StatusRuntimeException e = catchStatus(() -> agent.upload(upload("u-x", 1)));
        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
        assertThat(e.getStatus().getDescription()).doesNotContain("secret").contains("internal error in Upload;");
        StatusRuntimeException legacy = catchStatus(() -> agent.uploadLegacy(upload("u-y", 1)));
        assertThat(legacy.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
        assertThat(legacy.getStatus().getDescription()).doesNotContain("secret").contains("internal error in UploadUpdate;");
    }

    @Test
    void oversizeUploadsAreResourceExhaustedBeforeTheirDataIsBuffered() {
        TensorMeta big = meta("h.0.attn.c_attn.lora_B", io.fedlora.proto.v1.TensorRole.LORA_B, 256, 512);
        TestAgent.Upload u = new TestAgent.Upload(InMemoryGateway.FEDERATION, 1, "u-big", 5, 0,
                List.of(TestAgent.Tensor.random(big, 1, 0.1)), 64 * 1024, TestAgent.Fault.NONE);
        assertStatus(() -> agent.upload(u), Status.Code.RESOURCE_EXHAUSTED, "limit of " + MAX_UPLOAD);
        assertThat(gateway.checkUploadCalls).hasValue(0);
        assertThat(registry.get(GrpcMetrics.REJECTED).tag("reason", "oversize").counter().count()).isEqualTo(1);
    }

    /**
     * fedlora.grpc.max-concurrent-uploads is 2 here: with two uploads in flight (held in acceptUpload) a third has its
     * header checked but its data is not read until one of them ends; it waits, it is not refused.
     */
    @Test
    void uploadsBeyondTheAdmissionLimitWaitForRoomAndAreThenAccepted() throws Exception {
        gateway.holdAccept = new java.util.concurrent.CountDownLatch(1);
        ExecutorService senders = Executors.newFixedThreadPool(3);
        try {
            List<Future<UploadReceipt>> receipts = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                TestAgent.Upload u = upload("u-adm-" + i, 1);
                receipts.add(senders.submit(() -> agent.upload(u)));
            }
            await(() -> gateway.acceptEntered.get() == 2);
            TestAgent.Upload third = upload("u-adm-2", 1);
            receipts.add(senders.submit(() -> agent.upload(third)));
            await(() -> gateway.checkUploadCalls.get() == 3);
            Thread.sleep(500);
            assertThat(gateway.acceptEntered).as("the third upload's data is not taken in while two are in flight")
                    .hasValue(2);
            assertThat(receipts.get(2)).isNotDone();

            gateway.holdAccept.countDown();
            for (Future<UploadReceipt> r : receipts) {
                assertThat(r.get(30, TimeUnit.SECONDS).getDuplicate()).isFalse();
            }
            assertThat(gateway.stored).hasSize(3);
        } finally {
            gateway.holdAccept.countDown();
            senders.shutdownNow();
        }
    }

    private static void await(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("condition not met within 10 s");
            }
            Thread.sleep(20);
        }
    }

    @Test
    void retriedUploadIsAnsweredWithTheFirstReceiptAndStoredOnce() {
        UploadReceipt first = agent.upload(upload("u-dup", 1));
        UploadReceipt again = agent.upload(upload("u-dup", 1));
        assertThat(again.getDuplicate()).isTrue();
        assertThat(again.getUpdateId()).isEqualTo(first.getUpdateId());
        assertThat(gateway.stored).hasSize(1);
    }

    @Test
    void droppedUploadStoresNothingAndItsRetryIsAcceptedOnce() throws InterruptedException {
        assertStatus(() -> agent.upload(upload("u-drop", 1).with(TestAgent.Fault.DROP_MID_STREAM)),
                Status.Code.CANCELLED, "drops the connection");
        Thread.sleep(200);
        assertThat(gateway.stored).isEmpty();
        assertThat(agent.upload(upload("u-drop", 1)).getDuplicate()).isFalse();
        assertThat(agent.upload(upload("u-drop", 1)).getDuplicate()).isTrue();
        assertThat(gateway.stored).hasSize(1);
    }

    @Test
    void downloadStreamsManifestThenVerifiedChunksOfAtMostOneMebibyte() {
        byte[] base = randomBytes(3 * 1024 * 1024 + 123, 1);
        byte[] lora = randomBytes(4 * 64 * 4, 2);
        gateway.bundle = new ModelBundle(InMemoryGateway.FEDERATION, 2, 1, List.of(
                entry("wte.weight", TensorRole.BASE, base, new long[] {base.length / 4 + 1}, null),
                entry("empty.txt", TensorRole.FILE, new byte[0], new long[] {0}, null),
                entry("h.0.attn.c_attn.lora_A", TensorRole.LORA_A, lora, new long[] {4, 64}, null)));
        // wte's shape is irrelevant to the transport; bytes are what travel

        TestAgent.Download d = agent.download(InMemoryGateway.FEDERATION, 2, 1);

        assertThat(d.manifest().getModelVersion()).isEqualTo(2);
        assertThat(d.manifest().getBaseVersion()).isEqualTo(1);
        assertThat(d.bytes().get("wte.weight")).isEqualTo(base);
        assertThat(d.bytes().get("empty.txt")).isEmpty();
        assertThat(d.bytes().get("h.0.attn.c_attn.lora_A")).isEqualTo(lora);
        assertThat(d.largestChunk()).isEqualTo(1 << 20);
        assertThat(d.chunks()).isEqualTo(5);
        assertStatus(() -> agent.download(InMemoryGateway.FEDERATION, 9, 1), Status.Code.NOT_FOUND, "no model version 9");
    }

    @Test
    void downloadReadsTheBlobOnlyAsFastAsTheClientConsumes() throws Exception {
        int size = 24 * 1024 * 1024;
        AtomicLong read = new AtomicLong();
        BundleEntry big = new BundleEntry("big", TensorRole.BASE, DType.U8, new long[] {size}, "00".repeat(32), size,
                null, null, 0, null, () -> counting(new PatternStream(size), read));
        gateway.bundle = new ModelBundle(InMemoryGateway.FEDERATION, 1, -1, List.of(big));

        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
        try {
            Metadata md = new Metadata();
            md.put(BearerAuthInterceptor.AUTHORIZATION, "Bearer " + agent.credential());
            CompletableFuture<ClientCallStreamObserver<DownloadRequest>> call = new CompletableFuture<>();
            CompletableFuture<Void> manifest = new CompletableFuture<>();
            CompletableFuture<Long> done = new CompletableFuture<>();
            FederationGrpc.newStub(ch).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md))
                    .downloadModel(DownloadRequest.newBuilder().setModelVersion(1).setHaveVersion(-1).build(),
                            new ClientResponseObserver<DownloadRequest, ModelChunk>() {
                                long bytes;

                                @Override
                                public void beforeStart(ClientCallStreamObserver<DownloadRequest> s) {
                                    s.disableAutoRequestWithInitial(1);
                                    call.complete(s);
                                }

                                @Override
                                public void onNext(ModelChunk c) {
                                    manifest.complete(null);
                                    bytes += c.getData().getData().size();
                                }

                                @Override
                                public void onError(Throwable t) {
                                    done.completeExceptionally(t);
                                }

                                @Override
                                public void onCompleted() {
                                    done.complete(bytes);
                                }
                            });
            manifest.get(10, TimeUnit.SECONDS);
            Thread.sleep(500);
            long readWhileStalled = read.get();
            assertThat(readWhileStalled).as("bytes read from the blob while the client consumed nothing")
                    .isLessThan(size / 4);
            call.get().request(Integer.MAX_VALUE);
            assertThat(done.get(30, TimeUnit.SECONDS)).isEqualTo(size);
            assertThat(read.get()).isEqualTo(size);
        } finally {
            ch.shutdownNow();
        }
    }

    /**
     * fedlora.grpc.max-concurrent-downloads is 1 here: a second download waits for the first, holding only its request
     * (its bundle is looked up, and counted as sent, once it has the slot; a cancelled waiter never looks it up).
     */
    @Test
    void downloadsBeyondTheLimitWaitTheirTurnAndAnEndedOneFreesItsSlot() throws Exception {
        int size = 8 * 1024 * 1024;
        AtomicLong read = new AtomicLong();
        BundleEntry big = new BundleEntry("big", TensorRole.BASE, DType.U8, new long[] {size}, "00".repeat(32), size,
                null, null, 0, null, () -> counting(new PatternStream(size), read));
        gateway.bundle = new ModelBundle(InMemoryGateway.FEDERATION, 1, -1, List.of(big));
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
        try {
            int bundlesBefore = gateway.modelBundleCalls.get();
            Download first = Download.start(ch, agent.credential());
            first.manifest.get(10, TimeUnit.SECONDS); // streaming, stalled by its client after one message
            Thread.sleep(300);
            long readByFirst = read.get();
            Download second = Download.start(ch, agent.credential());
            Download third = Download.start(ch, agent.credential());
            Thread.sleep(1000);
            assertThat(second.manifest).as("a download past the limit waits").isNotDone();
            assertThat(read.get()).as("nothing read for the waiting downloads").isEqualTo(readByFirst);
            assertThat(gateway.modelBundleCalls).as("no bundle looked up for the waiting downloads").hasValue(bundlesBefore + 1);

            third.call.get().cancel("gave up", null); // a waiting download that gives up holds no slot
            first.call.get().request(Integer.MAX_VALUE);
            assertThat(first.done.get(30, TimeUnit.SECONDS)).isEqualTo(size);
            second.call.get().request(Integer.MAX_VALUE);
            assertThat(second.done.get(30, TimeUnit.SECONDS)).as("the next in line streams once the first ended")
                    .isEqualTo(size);
            // the slot came back after both: a further download streams at once
            Download fourth = Download.start(ch, agent.credential());
            fourth.call.get().request(Integer.MAX_VALUE);
            assertThat(fourth.done.get(30, TimeUnit.SECONDS)).isEqualTo(size);
            assertThat(third.done).isCompletedExceptionally();
            assertThat(gateway.modelBundleCalls).as("the cancelled waiter never looked its bundle up")
                    .hasValue(bundlesBefore + 3);
        } finally {
            ch.shutdownNow();
        }
    }

    /** A download whose client takes one message and then only what it is told to request. */
    private record Download(CompletableFuture<ClientCallStreamObserver<DownloadRequest>> call,
            CompletableFuture<Void> manifest, CompletableFuture<Long> done) {
        static Download start(ManagedChannel ch, String credential) {
            Download d = new Download(new CompletableFuture<>(), new CompletableFuture<>(), new CompletableFuture<>());
            Metadata md = new Metadata();
            md.put(BearerAuthInterceptor.AUTHORIZATION, "Bearer " + credential);
            FederationGrpc.newStub(ch).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md))
                    .downloadModel(DownloadRequest.newBuilder().setModelVersion(1).setHaveVersion(-1).build(),
                            new ClientResponseObserver<DownloadRequest, ModelChunk>() {
                                long bytes;

                                @Override
                                public void beforeStart(ClientCallStreamObserver<DownloadRequest> s) {
                                    s.disableAutoRequestWithInitial(1);
                                    d.call.complete(s);
                                }

                                @Override
                                public void onNext(ModelChunk c) {
                                    d.manifest.complete(null);
                                    bytes += c.getData().getData().size();
                                }

                                @Override
                                public void onError(Throwable t) {
                                    d.done.completeExceptionally(t);
                                }

                                @Override
                                public void onCompleted() {
                                    d.done.complete(bytes);
                                }
                            });
            return d;
        }
    }

    @Test
    void longPollAnswersWorkAssoonAsItArrivesAndWaitAfterTheCap() throws InterruptedException {
        long t0 = System.nanoTime();
        TaskResponse waited = agent.poll(60_000, -1);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertThat(waited.getKind()).isEqualTo(TaskKind.WAIT);
        assertThat(ms).as("server caps the wait at 800 ms").isBetween(700L, 5_000L);

        Thread offer = new Thread(() -> {
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                return;
            }
            gateway.offer(new ClientTask(ClientTask.Kind.DONE, InMemoryGateway.FEDERATION, 3, 3, null, null, 0,
                    "completed", 0));
        });
        offer.start();
        TaskResponse done = agent.poll(60_000, 3);
        offer.join();
        assertThat(done.getKind()).isEqualTo(TaskKind.DONE);
        assertThat(done.getReason()).isEqualTo("completed");
    }

    @Test
    void longPollEndsBeforeTheCallersDeadline() {
        // deadline 600 ms < server cap 800 ms: the server waits deadline - 250 ms and answers WAIT in time
        assertThat(agent.poll(60_000, -1, 600).getKind()).isEqualTo(TaskKind.WAIT);
    }

    @Test
    void cancelledLongPollCancelsItsWaitAndPollsBeyondTheCapAreRefused() throws Exception {
        Metadata md = new Metadata();
        md.put(BearerAuthInterceptor.AUTHORIZATION, "Bearer " + agent.credential());
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
        try {
            var stub = FederationGrpc.newStub(ch).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
            // max-waiting-polls 2: two waiting polls fill it, a third is refused
            List<ClientCallStreamObserver<TaskRequest>> calls = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                CompletableFuture<ClientCallStreamObserver<TaskRequest>> call = new CompletableFuture<>();
                stub.getTask(TaskRequest.newBuilder().setWaitMs(60_000).build(),
                        new ClientResponseObserver<TaskRequest, TaskResponse>() {
                            @Override
                            public void beforeStart(ClientCallStreamObserver<TaskRequest> s) {
                                call.complete(s);
                            }

                            @Override
                            public void onNext(TaskResponse value) {}

                            @Override
                            public void onError(Throwable t) {}

                            @Override
                            public void onCompleted() {}
                        });
                calls.add(call.get(5, TimeUnit.SECONDS));
            }
            Thread.sleep(150);
            assertStatus(() -> agent.poll(60_000, -1), Status.Code.RESOURCE_EXHAUSTED, "too many task polls");
            calls.forEach(c -> c.cancel("agent shuts down", null));
            long until = System.currentTimeMillis() + 2_000;
            while (gateway.cancelledPolls.get() < 2 && System.currentTimeMillis() < until) {
                Thread.sleep(10);
            }
            assertThat(gateway.cancelledPolls.get()).as("cancelled calls cancelled their polls").isEqualTo(2);
            assertThat(gateway.waitingPolls).as("no poll left waiting").isEmpty();
            // there is room again
            assertThat(agent.poll(0, -1).getKind()).isEqualTo(TaskKind.WAIT);
        } finally {
            ch.shutdownNow();
        }
    }

    // ---------------------------------------------------------------------------------------------

    static TestAgent.Upload upload(String uploadId, int round) {
        TensorMeta a = meta("h.0.attn.c_attn.lora_A", io.fedlora.proto.v1.TensorRole.LORA_A, 4, 16);
        TensorMeta b = meta("h.0.attn.c_attn.lora_B", io.fedlora.proto.v1.TensorRole.LORA_B, 48, 4);
        return new TestAgent.Upload(InMemoryGateway.FEDERATION, round, uploadId, 12, 0,
                List.of(TestAgent.Tensor.random(a, 1, 0.1), TestAgent.Tensor.random(b, 2, 0.1)), 100,
                TestAgent.Fault.NONE);
    }

    static TensorMeta meta(String name, io.fedlora.proto.v1.TensorRole role, long... shape) {
        TensorMeta.Builder m = TensorMeta.newBuilder().setName(name).setModule("h.0.attn.c_attn").setRole(role);
        for (long d : shape) {
            m.addShape(d);
        }
        return m.build();
    }

    static void assertStatus(Runnable call, Status.Code code, String messagePart) {
        StatusRuntimeException e = catchStatus(call);
        assertThat(e.getStatus().getCode()).as(String.valueOf(e.getStatus())).isEqualTo(code);
        assertThat(e.getStatus().getDescription()).contains(messagePart);
    }

    static StatusRuntimeException catchStatus(Runnable call) {
        try {
            call.run();
        } catch (StatusRuntimeException e) {
            return e;
        }
        throw new AssertionError("expected the call to fail");
    }

    private static BundleEntry entry(String name, TensorRole role, byte[] bytes, long[] shape, String module) {
        return new BundleEntry(name, role, role == TensorRole.FILE ? DType.U8 : DType.F32, shape,
                TestAgent.sha256(bytes), bytes.length, module, null, 0, null, () -> new ByteArrayInputStream(bytes));
    }

    private static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static InputStream counting(InputStream in, AtomicLong counter) {
        return new FilterInputStream(in) {
            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                int n = super.read(b, off, len);
                if (n > 0) {
                    counter.addAndGet(n);
                }
                return n;
            }

            @Override
            public int read() throws IOException {
                int v = super.read();
                if (v >= 0) {
                    counter.incrementAndGet();
                }
                return v;
            }
        };
    }

    /** {@code size} bytes of a repeating pattern, generated on the fly. */
    private static final class PatternStream extends InputStream {
        private final long size;
        private long pos;

        PatternStream(long size) {
            this.size = size;
        }

        @Override
        public int read() {
            return pos < size ? (int) (pos++ & 0xff) : -1;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (pos >= size) {
                return -1;
            }
            int n = (int) Math.min(len, size - pos);
            for (int i = 0; i < n; i++) {
                b[off + i] = (byte) (pos++ & 0xff);
            }
            return n;
        }
    }
}
