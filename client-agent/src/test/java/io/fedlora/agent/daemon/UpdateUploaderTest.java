package io.fedlora.agent.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.agent.daemon.transport.CoordinatorClient;
import io.fedlora.agent.daemon.upload.PendingUploadStore;
import io.fedlora.agent.daemon.upload.UpdateUploader;
import io.fedlora.agent.daemon.upload.UploadOutcome;
import io.fedlora.proto.v1.TensorData;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.UpdateHeader;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class UpdateUploaderTest {

    @TempDir
    Path work;
    ScriptedCoordinator coordinator;
    ManagedChannel channel;
    AgentProperties props;

    // B is 640 x 512 fp32 = 1,310,720 bytes: more than one 1 MiB chunk
    INDArray a = Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, 8, 512);
    INDArray b = Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, 640, 512).subi(0.5);

    @BeforeEach
    void start() throws Exception {
        coordinator = new ScriptedCoordinator();
        channel = NettyChannelBuilder.forTarget(coordinator.target()).usePlaintext().build();
        props = TestSupport.props(coordinator.target(), work, work, null);
    }

    @AfterEach
    void stop() throws Exception {
        channel.shutdownNow();
        coordinator.close();
    }

    private UpdateUploader uploader() {
        CoordinatorClient client = new CoordinatorClient(channel, props);
        client.useCredential(ScriptedCoordinator.CREDENTIAL);
        return new UpdateUploader(client, new PendingUploadStore(work));
    }

    private UpdateUploader.Update update(String uploadId) {
        return new UpdateUploader.Update(uploadId, "fed-1", 3, 2, 123, Map.of("train_loss", 1.5), List.of(
                new UpdateUploader.Item("h.0.attn.c_attn.lora_A", "h.0.attn.c_attn", "LORA_A", "F32",
                        io.fedlora.aggregation.lora.WeightLayout.CONV1D, a),
                new UpdateUploader.Item("h.0.attn.c_attn.lora_B", "h.0.attn.c_attn", "LORA_B", "F32",
                        io.fedlora.aggregation.lora.WeightLayout.CONV1D, b)));
    }

    @Test
    void sendsChunksOfAtMostOneMebibyteWithCorrectChecksums() throws Exception {
        UploadOutcome outcome = uploader().upload(update("u-1"));

        assertThat(outcome.kind()).isEqualTo(UploadOutcome.Kind.ACCEPTED);
        assertThat(coordinator.uploads).hasSize(1);
        ScriptedCoordinator.UploadAttempt attempt = coordinator.uploads.get(0);
        UpdateHeader header = attempt.header();
        assertThat(header.getUploadId()).isEqualTo("u-1");
        assertThat(header.getRound()).isEqualTo(3);
        assertThat(header.getBaseModelVersion()).isEqualTo(2);
        assertThat(header.getNumExamples()).isEqualTo(123);
        assertThat(header.getMetricsMap()).containsEntry("train_loss", 1.5);
        assertThat(header.getTensorsList()).extracting(TensorMeta::getLayout)
                .containsOnly(io.fedlora.proto.v1.WeightLayout.WEIGHT_LAYOUT_CONV1D);
        assertThat(header.getTensorsList()).extracting(TensorMeta::getName)
                .containsExactly("h.0.attn.c_attn.lora_A", "h.0.attn.c_attn.lora_B");
        assertThat(attempt.data()).allSatisfy(d -> assertThat(d.getData().size()).isLessThanOrEqualTo(1 << 20));
        assertThat(attempt.data().stream().filter(d -> d.getTensorIndex() == 1)).hasSize(2);

        MessageDigest whole = MessageDigest.getInstance("SHA-256");
        for (int i = 0; i < header.getTensorsCount(); i++) {
            byte[] bytes = reassemble(attempt.data(), i);
            TensorMeta meta = header.getTensors(i);
            assertThat(bytes.length).isEqualTo(meta.getByteSize());
            assertThat(sha256(bytes)).isEqualTo(meta.getSha256());
            whole.update(bytes);
            INDArray expected = i == 0 ? a : b;
            assertThat(floats(bytes)).isEqualTo(expected.data().asFloat());
            assertThat(meta.getShapeList()).containsExactly(expected.shape()[0], expected.shape()[1]);
        }
        assertThat(attempt.trailerSha256()).isEqualTo(HexFormat.of().formatHex(whole.digest()));
        assertThat(work.resolve("pending-upload.json")).doesNotExist();
        assertThat(work.resolve("pending-upload.safetensors")).doesNotExist();
    }

    @Test
    void sendsNoTensorBytesUntilTheCoordinatorAdmitsTheUpload() throws Exception {
        coordinator.admission = new java.util.concurrent.CountDownLatch(1);
        var pool = java.util.concurrent.Executors.newSingleThreadExecutor();
        try {
            List<String> told = new java.util.concurrent.CopyOnWriteArrayList<>();
            var sent = pool.submit(() -> uploader().upload(update("u-q"), new CoordinatorClient.UploadListener() {
                @Override
                public void queued(int ahead) {
                    told.add("queued " + ahead);
                }

                @Override
                public void admitted() {
                    told.add("admitted");
                }
            }));
            long end = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
            while (coordinator.headersSeen.get() == 0 && System.nanoTime() < end) {
                Thread.sleep(10);
            }
            assertThat(coordinator.headersSeen).as("the header arrived").hasValue(1);
            Thread.sleep(300); // time for data a wrong client would send while queued
            assertThat(sent).as("waiting for admission").isNotDone();
            assertThat(told).as("the agent's state can say it waits").containsExactly("queued 3");
            coordinator.admission.countDown();

            assertThat(sent.get(10, java.util.concurrent.TimeUnit.SECONDS).kind()).isEqualTo(UploadOutcome.Kind.ACCEPTED);
            ScriptedCoordinator.UploadAttempt attempt = coordinator.uploads.get(0);
            assertThat(attempt.method()).isEqualTo("Upload");
            assertThat(attempt.dataBeforeAdmission()).as("data chunks sent before admission").isZero();
            assertThat(told).containsExactly("queued 3", "admitted");
            assertThat(attempt.data()).hasSize(3);
            assertThat(attempt.trailerSha256()).isNotNull();
        } finally {
            coordinator.admission.countDown();
            pool.shutdownNow();
        }
    }

    @Test
    void usesUploadUpdateWhenTheCoordinatorHasNoUploadCallAndRemembersIt() throws Exception {
        coordinator.legacyUploadOnly = true;
        UpdateUploader uploader = uploader();
        assertThat(uploader.upload(update("u-l1")).kind()).isEqualTo(UploadOutcome.Kind.ACCEPTED);
        assertThat(uploader.upload(update("u-l2")).kind()).isEqualTo(UploadOutcome.Kind.ACCEPTED);

        assertThat(coordinator.uploads).extracting(ScriptedCoordinator.UploadAttempt::method)
                .containsExactly("UploadUpdate", "UploadUpdate");
        assertThat(coordinator.uploadCallsRefused).as("Upload tried once, then not again").hasValue(1);
        assertThat(coordinator.uploads.get(1).data()).hasSize(3);
    }

    @Test
    void retriesWithBackoffWhileTheCoordinatorIsUnavailableKeepingTheUploadId() throws Exception {
        coordinator.uploadFailure = n -> n < 2 ? Status.UNAVAILABLE.withDescription("restarting") : null;
        long start = System.nanoTime();
        UploadOutcome outcome = uploader().upload(update("u-2"));
        long elapsedMs = (System.nanoTime() - start) / 1_000_000;

        assertThat(outcome.kind()).isEqualTo(UploadOutcome.Kind.ACCEPTED);
        assertThat(coordinator.uploads).hasSize(3)
                .allSatisfy(at -> assertThat(at.header().getUploadId()).isEqualTo("u-2"))
                .allSatisfy(at -> assertThat(at.trailerSha256()).isEqualTo(coordinator.uploads.get(0).trailerSha256()));
        // backoff: at least initial/2 then initial*2/2 = 20 + 40 ms
        assertThat(elapsedMs).isGreaterThanOrEqualTo(60);
        assertThat(coordinator.gapsMs()).allSatisfy(gap -> assertThat(gap).isGreaterThanOrEqualTo(15));
    }

    @Test
    void nonRetryableStatusIsNotRetriedAndTheUpdateIsDropped() throws Exception {
        coordinator.uploadFailure = n -> Status.FAILED_PRECONDITION.withDescription("round 3 is closed");
        UploadOutcome outcome = uploader().upload(update("u-3"));

        assertThat(outcome.kind()).isEqualTo(UploadOutcome.Kind.REJECTED);
        assertThat(outcome.detail()).contains("FAILED_PRECONDITION").contains("round 3 is closed");
        assertThat(coordinator.uploads).hasSize(1);
        assertThat(work.resolve("pending-upload.json")).doesNotExist();
    }

    @Test
    void pendingUploadSurvivesARestartAndIsResumedUnderTheSameId() throws Exception {
        coordinator.uploadFailure = n -> Status.UNAVAILABLE.withDescription("down");
        props = withRetry(TestSupport.props(coordinator.target(), work, work, null),
                new AgentProperties.Retry(Duration.ofMillis(10), Duration.ofMillis(20), 2.0, Duration.ofMillis(800)));
        UploadOutcome first = uploader().upload(update("u-4"));
        assertThat(first.kind()).isEqualTo(UploadOutcome.Kind.PENDING);
        assertThat(work.resolve("pending-upload.json")).exists();
        int failedAttempts = coordinator.uploads.size();
        assertThat(failedAttempts).isGreaterThanOrEqualTo(1);

        // "restart": a fresh uploader and store over the same work dir, coordinator back
        coordinator.uploadFailure = n -> null;
        UploadOutcome resumed = uploader().resumePending().orElseThrow();
        assertThat(resumed.kind()).isEqualTo(UploadOutcome.Kind.ACCEPTED);
        assertThat(coordinator.uploads).hasSize(failedAttempts + 1)
                .allSatisfy(at -> assertThat(at.header().getUploadId()).isEqualTo("u-4"));
        ScriptedCoordinator.UploadAttempt last = coordinator.uploads.get(failedAttempts);
        assertThat(floats(reassemble(last.data(), 1))).isEqualTo(b.data().asFloat());
        assertThat(uploader().resumePending()).isEmpty();
    }

    static AgentProperties withRetry(AgentProperties p, AgentProperties.Retry retry) {
        return new AgentProperties(p.coordinator(), p.token(), p.name(), p.dataDir(), p.workDir(), p.tls(),
                p.heartbeatInterval(), p.ompThreads(), p.badLines(), p.pollWait(), p.rpcTimeout(), p.transferTimeout(),
                retry, p.logEverySteps(), p.baseModel());
    }

    static byte[] reassemble(List<TensorData> data, int tensor) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        List<TensorData> parts = data.stream().filter(d -> d.getTensorIndex() == tensor).collect(Collectors.toList());
        for (TensorData d : parts) {
            assertThat(d.getOffset()).isEqualTo(out.size());
            out.writeBytes(d.getData().toByteArray());
        }
        return out.toByteArray();
    }

    static float[] floats(byte[] bytes) {
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[bytes.length / 4];
        for (int i = 0; i < out.length; i++) {
            out[i] = buf.getFloat();
        }
        return out;
    }

    static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }
}
