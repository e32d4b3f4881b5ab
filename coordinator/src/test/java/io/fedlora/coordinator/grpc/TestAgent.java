package io.fedlora.coordinator.grpc;

import com.google.protobuf.ByteString;
import io.fedlora.proto.v1.DType;
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
import io.fedlora.proto.v1.TaskRequest;
import io.fedlora.proto.v1.TaskResponse;
import io.fedlora.proto.v1.TensorData;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.TensorRole;
import io.fedlora.proto.v1.UpdateChunk;
import io.fedlora.proto.v1.UpdateHeader;
import io.fedlora.proto.v1.UpdateTrailer;
import io.fedlora.proto.v1.UploadReceipt;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Plays a client agent over a real gRPC channel for tests: enrol, heartbeat, poll, download (reassembled
 * and sha256-verified) and upload, with hooks that break an upload on purpose (wrong checksums, a
 * garbage chunk, a connection dropped mid-stream).
 */
public final class TestAgent implements AutoCloseable {

    /** sha256 over every tensor's bytes in order: what the trailer of a correct upload declares. */
    static String uploadSha256(Upload u) {
        MessageDigest whole = digest();
        u.tensors().forEach(t -> whole.update(t.bytes()));
        return HEX.formatHex(whole.digest());
    }

    private static final HexFormat HEX = HexFormat.of();

    private final ManagedChannel owned;
    private String credential;

    private TestAgent(ManagedChannel owned) {
        this.owned = owned;
    }

    /** An agent on a plaintext loopback channel to {@code port}. */
    public static TestAgent connect(int port) {
        return new TestAgent(NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build());
    }

    /** An agent on a channel the caller built (e.g. with TLS); closing the agent shuts it down. */
    public static TestAgent over(ManagedChannel channel) {
        return new TestAgent(channel);
    }

    public TestAgent withCredential(String credential) {
        this.credential = credential;
        return this;
    }

    public String credential() {
        return credential;
    }

    private FederationGrpc.FederationBlockingStub blocking() {
        return FederationGrpc.newBlockingStub(authed()).withDeadlineAfter(60, TimeUnit.SECONDS);
    }

    private Channel authed() {
        if (credential == null) {
            return owned;
        }
        Metadata md = new Metadata();
        md.put(BearerAuthInterceptor.AUTHORIZATION, "Bearer " + credential);
        return ClientInterceptors.intercept(owned, MetadataUtils.newAttachHeadersInterceptor(md));
    }

    /** Enrols and keeps the returned credential for later calls. */
    public EnrolResponse enrol(String token, String name) {
        EnrolResponse r = FederationGrpc.newBlockingStub(owned).withDeadlineAfter(60, TimeUnit.SECONDS)
                .enrol(EnrolRequest.newBuilder().setEnrolmentToken(token).setClientName(name).build());
        credential = r.getCredential();
        return r;
    }

    public HeartbeatResponse heartbeat(String state, long cachedVersion) {
        return blocking().heartbeat(HeartbeatRequest.newBuilder().setState(state)
                .setCachedModelVersion(cachedVersion).setDevice("test (CPU)").build());
    }

    /** A heartbeat with a client-side deadline of {@code deadlineMs}. */
    public HeartbeatResponse heartbeat(String state, long cachedVersion, long deadlineMs) {
        return FederationGrpc.newBlockingStub(authed()).withDeadlineAfter(deadlineMs, TimeUnit.MILLISECONDS)
                .heartbeat(HeartbeatRequest.newBuilder().setState(state).setCachedModelVersion(cachedVersion)
                        .setDevice("test (CPU)").build());
    }

    public TaskResponse poll(int waitMs, long cachedVersion) {
        return blocking().getTask(TaskRequest.newBuilder().setWaitMs(waitMs).setCachedModelVersion(cachedVersion).build());
    }

    /** Polls with a client-side deadline of {@code deadlineMs}. */
    public TaskResponse poll(int waitMs, long cachedVersion, long deadlineMs) {
        return FederationGrpc.newBlockingStub(authed()).withDeadlineAfter(deadlineMs, TimeUnit.MILLISECONDS)
                .getTask(TaskRequest.newBuilder().setWaitMs(waitMs).setCachedModelVersion(cachedVersion).build());
    }

    public EvaluationAck reportEvaluation(EvaluationReport report) {
        return blocking().reportEvaluation(report);
    }

    /** A downloaded model: the manifest and each tensor's bytes, already checked against its sha256. */
    public record Download(ModelManifest manifest, Map<String, byte[]> bytes, int chunks, int largestChunk) {
        public TensorMeta meta(String name) {
            return manifest.getTensorsList().stream().filter(t -> t.getName().equals(name)).findFirst().orElseThrow();
        }

        /** A tensor's little-endian fp32 values. */
        public float[] floats(String name) {
            ByteBuffer b = ByteBuffer.wrap(bytes.get(name)).order(ByteOrder.LITTLE_ENDIAN);
            float[] out = new float[b.remaining() / 4];
            b.asFloatBuffer().get(out);
            return out;
        }
    }

    /** DownloadModel with {@code manifest_only}: every message the stream sent (the manifest alone, if it obeys). */
    public List<ModelChunk> manifestOnly(String federationId, long version, long haveVersion) {
        Iterator<ModelChunk> it = blocking().downloadModel(DownloadRequest.newBuilder().setFederationId(federationId)
                .setModelVersion(version).setHaveVersion(haveVersion).setManifestOnly(true).build());
        List<ModelChunk> out = new ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }

    /** Downloads, reassembles and verifies every tensor's sha256 and size; fails on any mismatch. */
    public Download download(String federationId, long version, long haveVersion) {
        Iterator<ModelChunk> it = blocking().downloadModel(DownloadRequest.newBuilder()
                .setFederationId(federationId).setModelVersion(version).setHaveVersion(haveVersion).build());
        ModelChunk first = it.next();
        if (!first.hasManifest()) {
            throw new AssertionError("download did not start with a manifest");
        }
        ModelManifest manifest = first.getManifest();
        List<java.io.ByteArrayOutputStream> parts = new ArrayList<>();
        manifest.getTensorsList().forEach(t -> parts.add(new java.io.ByteArrayOutputStream()));
        int chunks = 0;
        int largest = 0;
        while (it.hasNext()) {
            ModelChunk c = it.next();
            if (!c.hasData()) {
                throw new AssertionError("second manifest in a download");
            }
            TensorData d = c.getData();
            java.io.ByteArrayOutputStream part = parts.get(d.getTensorIndex());
            if (d.getOffset() != part.size()) {
                throw new AssertionError("chunk offset " + d.getOffset() + " != received " + part.size());
            }
            part.writeBytes(d.getData().toByteArray());
            chunks++;
            largest = Math.max(largest, d.getData().size());
        }
        Map<String, byte[]> bytes = new LinkedHashMap<>();
        long total = 0;
        for (int i = 0; i < manifest.getTensorsCount(); i++) {
            TensorMeta meta = manifest.getTensors(i);
            byte[] b = parts.get(i).toByteArray();
            if (b.length != meta.getByteSize()) {
                throw new AssertionError(meta.getName() + ": " + b.length + " bytes, manifest says " + meta.getByteSize());
            }
            if (!sha256(b).equals(meta.getSha256())) {
                throw new AssertionError(meta.getName() + ": sha256 mismatch");
            }
            bytes.put(meta.getName(), b);
            total += b.length;
        }
        if (total != manifest.getTotalBytes()) {
            throw new AssertionError("total " + total + " != manifest total " + manifest.getTotalBytes());
        }
        return new Download(manifest, bytes, chunks, largest);
    }

    /** One uploaded tensor: fp32 values in c order, declared for a base weight in {@code layout}. */
    public record Tensor(String name, String module, TensorRole role, long[] shape, float[] values,
                         io.fedlora.proto.v1.WeightLayout layout) {

        public Tensor(String name, String module, TensorRole role, long[] shape, float[] values) {
            this(name, module, role, shape, values, io.fedlora.proto.v1.WeightLayout.WEIGHT_LAYOUT_CONV1D);
        }

        public Tensor withLayout(io.fedlora.proto.v1.WeightLayout l) {
            return new Tensor(name, module, role, shape, values, l);
        }

        byte[] bytes() {
            ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(values);
            return b.array();
        }

        /** A tensor of {@code shape} filled with seeded Gaussian values times {@code scale}. */
        public static Tensor random(TensorMeta expected, long seed, double scale) {
            long[] shape = expected.getShapeList().stream().mapToLong(Long::longValue).toArray();
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            Random r = new Random(seed);
            float[] v = new float[(int) n];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (r.nextGaussian() * scale);
            }
            return new Tensor(expected.getName(), expected.getModule(), expected.getRole(), shape, v, expected.getLayout());
        }
    }

    /** How to break an upload on purpose. */
    public enum Fault {
        NONE,
        /** The header declares a wrong sha256 for the first tensor. */
        WRONG_TENSOR_SHA,
        /** The trailer declares a wrong upload sha256. */
        WRONG_UPLOAD_SHA,
        /** A chunk pointing past the header's tensor list is sent after the header. */
        GARBAGE_CHUNK,
        /** A chunk with no part set is sent after the header. */
        EMPTY_CHUNK,
        /** Data is sent before the header. */
        DATA_BEFORE_HEADER,
        /** The header is sent twice. */
        TWO_HEADERS,
        /** The client half-closes without a trailer. */
        NO_TRAILER,
        /** The second chunk of the first tensor skips ahead. */
        OFFSET_GAP,
        /** The call is cancelled after half the chunks (a dropped connection). */
        DROP_MID_STREAM,
        /**
         * Everything is sent and the stream half-closed, then the call is cancelled at once (the receipt is lost):
         * the server may or may not have stored the update, and the agent cannot know which.
         */
        DROP_AFTER_TRAILER
    }

    /** What to upload. */
    public record Upload(String federationId, int round, String uploadId, long numExamples, long baseVersion,
            List<Tensor> tensors, int chunkBytes, Fault fault) {
        public Upload with(Fault f) {
            return new Upload(federationId, round, uploadId, numExamples, baseVersion, tensors, chunkBytes, f);
        }
    }

    /**
     * Uploads with the Upload call as an agent does (header, then the data once admitted) and waits for the receipt; a
     * refusal is thrown as the server's {@link StatusRuntimeException}.
     */
    public UploadReceipt upload(Upload u) {
        return upload(u, false);
    }

    /** Uploads with the older UploadUpdate call (everything sent as flow control allows). */
    public UploadReceipt uploadLegacy(Upload u) {
        return upload(u, true);
    }

    private UploadReceipt upload(Upload u, boolean legacy) {
        List<byte[]> data = u.tensors().stream().map(Tensor::bytes).toList();
        UpdateHeader.Builder header = UpdateHeader.newBuilder()
                .setFederationId(u.federationId()).setRound(u.round()).setUploadId(u.uploadId())
                .setNumExamples(u.numExamples()).setBaseModelVersion(u.baseVersion())
                .putMetrics("train_loss", 1.25);
        MessageDigest whole = digest();
        for (int i = 0; i < u.tensors().size(); i++) {
            Tensor t = u.tensors().get(i);
            TensorMeta.Builder m = TensorMeta.newBuilder().setName(t.name()).setModule(t.module()).setRole(t.role())
                    .setDtype(DType.F32).setSha256(sha256(data.get(i))).setByteSize(data.get(i).length).setLayout(t.layout());
            for (long d : t.shape()) {
                m.addShape(d);
            }
            if (i == 0 && u.fault() == Fault.WRONG_TENSOR_SHA) {
                m.setSha256(sha256(new byte[] {1, 2, 3}));
            }
            header.addTensors(m);
            whole.update(data.get(i));
        }
        String uploadSha = u.fault() == Fault.WRONG_UPLOAD_SHA ? sha256(new byte[] {9}) : HEX.formatHex(whole.digest());

        List<UpdateChunk> chunks = new ArrayList<>();
        if (u.fault() == Fault.DATA_BEFORE_HEADER) {
            chunks.add(dataChunk(0, 0, new byte[] {0, 0, 0, 0}));
        }
        chunks.add(UpdateChunk.newBuilder().setHeader(header).build());
        if (u.fault() == Fault.TWO_HEADERS) {
            chunks.add(UpdateChunk.newBuilder().setHeader(header).build());
        }
        if (u.fault() == Fault.GARBAGE_CHUNK) {
            chunks.add(dataChunk(u.tensors().size() + 7, 0, new byte[] {(byte) 0xde, (byte) 0xad}));
        }
        if (u.fault() == Fault.EMPTY_CHUNK) {
            chunks.add(UpdateChunk.getDefaultInstance());
        }
        for (int i = 0; i < data.size(); i++) {
            byte[] b = data.get(i);
            for (int off = 0, k = 0; off < b.length; off += u.chunkBytes(), k++) {
                int len = Math.min(u.chunkBytes(), b.length - off);
                long sentOffset = (i == 0 && k == 1 && u.fault() == Fault.OFFSET_GAP) ? off + 4 : off;
                chunks.add(dataChunk(i, sentOffset, java.util.Arrays.copyOfRange(b, off, off + len)));
            }
        }
        if (u.fault() != Fault.NO_TRAILER) {
            chunks.add(UpdateChunk.newBuilder().setTrailer(UpdateTrailer.newBuilder().setUploadSha256(uploadSha)).build());
        }
        int dropAfter = u.fault() == Fault.DROP_MID_STREAM ? Math.max(2, chunks.size() / 2) : -1;
        return send(chunks, dropAfter, u.fault() == Fault.DROP_AFTER_TRAILER, legacy);
    }

    private UploadReceipt send(List<UpdateChunk> chunks, int dropAfter, boolean dropAfterClose, boolean legacy) {
        UploadCall call = new UploadCall();
        CompletableFuture<UploadReceipt> result = call.result;
        CompletableFuture<Void> admitted = call.admitted;
        CompletableFuture<ClientCallStreamObserver<UpdateChunk>> requests = call.requests;
        var stub = FederationGrpc.newStub(authed()).withDeadlineAfter(60, TimeUnit.SECONDS);
        var out = legacy ? stub.uploadUpdate(call.receiptOnly()) : stub.upload(call);
        ClientCallStreamObserver<UpdateChunk> stream = requests.join();
        for (int i = 0; i < chunks.size(); i++) {
            if (i == dropAfter) {
                stream.cancel("test agent drops the connection", null);
                break;
            }
            if (result.isDone()) {
                break;
            }
            if (!legacy && i > 0 && chunks.get(i - 1).hasHeader()) {
                // after the (last) header, wait for admission, a receipt or a refusal
                CompletableFuture.anyOf(admitted, result).orTimeout(60, TimeUnit.SECONDS).exceptionally(t -> null).join();
                if (result.isDone()) {
                    break;
                }
            }
            out.onNext(chunks.get(i));
        }
        if (dropAfter < 0 && !result.isDone()) {
            out.onCompleted();
            if (dropAfterClose) {
                stream.cancel("test agent drops the connection before the receipt", null);
            }
        }
        try {
            return result.get(60, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof StatusRuntimeException s) {
                throw s;
            }
            throw Status.fromThrowable(e.getCause()).asRuntimeException();
        } catch (InterruptedException | TimeoutException e) {
            throw new AssertionError("upload did not finish", e);
        }
    }

    /** One upload call's replies: admitted, and the receipt the call ends with (or its error). */
    private static final class UploadCall implements ClientResponseObserver<UpdateChunk, io.fedlora.proto.v1.UploadReply> {
        final CompletableFuture<UploadReceipt> result = new CompletableFuture<>();
        final CompletableFuture<Void> admitted = new CompletableFuture<>();
        final CompletableFuture<ClientCallStreamObserver<UpdateChunk>> requests = new CompletableFuture<>();
        private UploadReceipt receipt;

        @Override
        public void beforeStart(ClientCallStreamObserver<UpdateChunk> stream) {
            requests.complete(stream);
        }

        @Override
        public void onNext(io.fedlora.proto.v1.UploadReply value) {
            switch (value.getPartCase()) {
                case ADMITTED -> admitted.complete(null);
                case RECEIPT -> receipt = value.getReceipt();
                default -> { }
            }
        }

        @Override
        public void onError(Throwable t) {
            result.completeExceptionally(t);
        }

        @Override
        public void onCompleted() {
            result.complete(receipt);
        }

        /** This call as the UploadUpdate call's observer, whose only message is the receipt. */
        ClientResponseObserver<UpdateChunk, UploadReceipt> receiptOnly() {
            UploadCall self = this;
            return new ClientResponseObserver<>() {
                @Override
                public void beforeStart(ClientCallStreamObserver<UpdateChunk> stream) {
                    self.beforeStart(stream);
                }

                @Override
                public void onNext(UploadReceipt value) {
                    self.onNext(io.fedlora.proto.v1.UploadReply.newBuilder().setReceipt(value).build());
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

    private static UpdateChunk dataChunk(int index, long offset, byte[] bytes) {
        return UpdateChunk.newBuilder().setData(TensorData.newBuilder()
                .setTensorIndex(index).setOffset(offset).setData(ByteString.copyFrom(bytes))).build();
    }

    public static String sha256(byte[] bytes) {
        return HEX.formatHex(digest().digest(bytes));
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() throws InterruptedException {
        owned.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
}
