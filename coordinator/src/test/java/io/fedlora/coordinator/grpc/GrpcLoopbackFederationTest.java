package io.fedlora.coordinator.grpc;

import static io.fedlora.coordinator.grpc.GrpcWireTest.assertStatus;
import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.federation.FederationStatus;
import io.fedlora.coordinator.client.ClientService;
import io.fedlora.coordinator.support.CoordinatorTestBase;
import io.fedlora.proto.v1.TaskKind;
import io.fedlora.proto.v1.TaskResponse;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.TensorRole;
import io.fedlora.proto.v1.UploadReceipt;
import io.fedlora.proto.v1.WeightLayout;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.grpc.server.lifecycle.GrpcServerLifecycle;

/**
 * Federations driven entirely over a loopback gRPC channel into the real coordinator (Spring context,
 * PostgreSQL, blob store, scheduler): a full exact round whose published delta is checked on the
 * client side, and every kind of bad upload refused with its status while nothing stored changes.
 */
class GrpcLoopbackFederationTest extends CoordinatorTestBase {

    private static final Duration WAIT = Duration.ofSeconds(20);

    @Autowired
    private GrpcServerLifecycle grpcServer;

    private final List<TestAgent> agents = new ArrayList<>();

    @AfterEach
    void closeAgents() throws InterruptedException {
        for (TestAgent a : agents) {
            a.close();
        }
    }

    @Test
    void threeAgentsTrainOneRoundAndDownloadTheExactDelta() {
        Federation f = createAndStart(spec(uniqueName("wire-round"), 1, 3, 3, 60, 0, false, "fedex"));
        List<TestAgent> clients = enrolOverTheWire(f, 3);
        long[] examples = {10, 20, 40};

        TestAgent.Download v0 = clients.get(0).download(f.id(), 0, -1);
        assertThat(v0.manifest().getBaseVersion()).isEqualTo(-1);
        List<List<TestAgent.Tensor>> uploads = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            TaskResponse task = awaitTask(clients.get(i), TaskKind.TRAIN);
            assertThat(task.getModelVersion()).isZero();
            assertThat(task.getPlan().getRank()).isEqualTo(4);
            List<TestAgent.Tensor> factors = randomFactors(task, 100 + i);
            uploads.add(factors);
            UploadReceipt r = clients.get(i).upload(new TestAgent.Upload(f.id(), task.getRound(), "up-" + i,
                    examples[i], task.getModelVersion(), factors, 64, TestAgent.Fault.NONE));
            assertThat(r.getDuplicate()).isFalse();
            assertThat(r.getBytesReceived()).isPositive();
        }
        awaitStatus(f.id(), FederationStatus.COMPLETED, WAIT);
        assertThat(awaitTask(clients.get(1), TaskKind.DONE).getReason()).isEqualTo("completed");

        TestAgent.Download delta = clients.get(2).download(f.id(), 1, 0);
        assertThat(delta.manifest().getBaseVersion()).isZero();
        assertThat(delta.manifest().getTensorsList()).extracting(TensorMeta::getRole)
                .contains(TensorRole.LORA_A, TensorRole.LORA_B).doesNotContain(TensorRole.BASE);
        assertThat(delta.manifest().getTensorsList()).anyMatch(t -> t.getRole() == TensorRole.RESIDUAL_DENSE
                || t.getRole() == TensorRole.RESIDUAL_U);

        // what an agent does with the delta: fold the residual into its base, take the new adapter
        Map<String, INDArray> base = new HashMap<>();
        Map<String, INDArray> a = new HashMap<>();
        Map<String, INDArray> b = new HashMap<>();
        for (TensorMeta t : v0.manifest().getTensorsList()) {
            if (t.getRole() == TensorRole.BASE) {
                base.put(t.getName(), array(v0, t));
            }
        }
        for (TensorMeta t : delta.manifest().getTensorsList()) {
            switch (t.getRole()) {
                case LORA_A -> a.put(t.getModule(), array(delta, t));
                case LORA_B -> b.put(t.getModule(), array(delta, t));
                case RESIDUAL_DENSE -> base.get(t.getTarget()).addi(array(delta, t));
                case RESIDUAL_U -> {
                    TensorMeta v = delta.manifest().getTensorsList().stream()
                            .filter(m -> m.getRole() == TensorRole.RESIDUAL_V && m.getModule().equals(t.getModule()))
                            .findFirst().orElseThrow();
                    INDArray uv = array(delta, t).mmul(array(delta, v)).muli(t.getScale());
                    // TinyGpt2's c_attn: the family's Conv1D layout, stated by the coordinator, not guessed from a name
                    assertThat(t.getLayout()).as("layout of %s", t.getName()).isEqualTo(WeightLayout.WEIGHT_LAYOUT_CONV1D);
                    base.get(t.getTarget()).addi(uv.transpose());
                }
                default -> { }
            }
        }
        double s = 8.0 / 4; // alpha / rank of the spec
        double total = 70;
        assertThat(a).isNotEmpty();
        for (String module : a.keySet()) {
            String key = module + ".weight";
            INDArray w0 = array(v0, v0.meta(key));
            INDArray target = w0.mul(0);
            for (int i = 0; i < 3; i++) {
                INDArray ai = factor(uploads.get(i), module + ".lora_A");
                INDArray bi = factor(uploads.get(i), module + ".lora_B");
                target.addi(w0.add(bi.mmul(ai).transpose().mul(s)).muli(examples[i] / total));
            }
            INDArray federated = base.get(key).add(b.get(module).mmul(a.get(module)).transpose().mul(s));
            double rel = federated.sub(target).norm2Number().doubleValue() / target.norm2Number().doubleValue();
            assertThat(rel).as("exactness of %s rebuilt from the wire", module).isLessThan(1e-5);
        }
    }

    @Test
    void badUploadsAreRefusedWithTheirStatusAndChangeNothingStored() {
        Federation f = createAndStart(spec(uniqueName("wire-bad"), 1, 3, 3, 60, 0, false, "fedex"));
        List<TestAgent> clients = enrolOverTheWire(f, 3);
        TaskResponse task = awaitTask(clients.get(0), TaskKind.TRAIN);
        TestAgent agent = clients.get(0);
        TestAgent.Upload good = new TestAgent.Upload(f.id(), task.getRound(), "bad-1", 10, task.getModelVersion(),
                randomFactors(task, 7), 64, TestAgent.Fault.NONE);
        // enrolled after the round selected its three clients
        TestAgent late = enrolOverTheWire(f, 1).get(0);
        long[] before = counts(f.id());

        try (TestAgent anonymous = TestAgent.connect(grpcServer.getPort())) {
            assertStatus(() -> anonymous.upload(good), Status.Code.UNAUTHENTICATED, "authorization");
            anonymous.withCredential("forged");
            assertStatus(() -> anonymous.upload(good), Status.Code.UNAUTHENTICATED, "unknown credential");
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        assertStatus(() -> late.upload(good), Status.Code.PERMISSION_DENIED, "was not selected");
        assertStatus(() -> agent.upload(withRound(good, 5)), Status.Code.NOT_FOUND, "round 5");
        assertStatus(() -> agent.upload(renamed(good)), Status.Code.INVALID_ARGUMENT, "unexpected tensor");
        assertStatus(() -> agent.upload(reshaped(good)), Status.Code.INVALID_ARGUMENT, "has shape");
        // the layout is required: an agent that declares none, or trained the GPT-2 c_attn as an nn.Linear weight
        assertStatus(() -> agent.upload(relaid(good, WeightLayout.WEIGHT_LAYOUT_UNSPECIFIED)), Status.Code.INVALID_ARGUMENT,
                "declares no weight layout; the base weight of h.0.attn.c_attn is stored CONV1D");
        assertStatus(() -> agent.upload(relaid(good, WeightLayout.WEIGHT_LAYOUT_LINEAR)), Status.Code.INVALID_ARGUMENT,
                "was trained for a LINEAR weight but the federation's model stores h.0.attn.c_attn as CONV1D");
        TestAgent.Upload nan = copy(good);
        nan.tensors().get(0).values()[1] = Float.NaN;
        assertStatus(() -> agent.upload(nan), Status.Code.INVALID_ARGUMENT, "NaN");
        TestAgent.Upload huge = copy(good);
        java.util.Arrays.fill(huge.tensors().get(1).values(), 5_000f);
        assertStatus(() -> agent.upload(huge), Status.Code.INVALID_ARGUMENT, "norm");
        assertStatus(() -> agent.upload(good.with(TestAgent.Fault.WRONG_TENSOR_SHA)), Status.Code.INVALID_ARGUMENT, "sha256");
        assertStatus(() -> agent.upload(good.with(TestAgent.Fault.WRONG_UPLOAD_SHA)), Status.Code.INVALID_ARGUMENT, "sha256");
        assertStatus(() -> agent.upload(good.with(TestAgent.Fault.GARBAGE_CHUNK)), Status.Code.INVALID_ARGUMENT, "tensor_index");
        TensorMeta big = TensorMeta.newBuilder().setName(good.tensors().get(0).name()).addShape(1 << 20).addShape(1024).build();
        TestAgent.Upload oversize = new TestAgent.Upload(f.id(), 1, "bad-big", 10, 0,
                List.of(new TestAgent.Tensor(big.getName(), good.tensors().get(0).module(), TensorRole.LORA_A,
                        new long[] {1 << 20, 1024}, new float[0])), 64, TestAgent.Fault.NONE);
        assertStatus(() -> agent.upload(oversize), Status.Code.RESOURCE_EXHAUSTED, "limit");
        assertStatus(() -> agent.upload(good.with(TestAgent.Fault.DROP_MID_STREAM)), Status.Code.CANCELLED, "drops");
        assertThat(counts(f.id())).as("updates, blobs, reported participants").containsExactly(before);

        // the retry after the dropped connection is accepted exactly once, a second retry is a duplicate
        UploadReceipt first = agent.upload(good);
        UploadReceipt again = agent.upload(good);
        assertThat(first.getDuplicate()).isFalse();
        assertThat(again.getDuplicate()).isTrue();
        assertThat(again.getUpdateId()).isEqualTo(first.getUpdateId());
        assertThat(jdbc.sql("SELECT upload_sha256 FROM updates WHERE id = :id::uuid").param("id", first.getUpdateId())
                .query(String.class).single()).as("the verified trailer checksum is recorded with the update")
                .isEqualTo(TestAgent.uploadSha256(good));
        long[] after = counts(f.id());
        assertThat(after[0]).isEqualTo(before[0] + 1);
        assertThat(after[2]).isEqualTo(before[2] + 1);
        assertThat(jdbc.sql("SELECT count(*) FROM updates u JOIN rounds r ON r.id = u.round_id "
                + "WHERE r.federation_id = :f::uuid AND u.upload_id = 'bad-1'").param("f", f.id())
                .query(Long.class).single()).isEqualTo(1);

        clientService.revokeClient(idOf(f, "wire-1"), "test");
        assertStatus(() -> clients.get(1).heartbeat("idle", -1), Status.Code.PERMISSION_DENIED, "revoked");
    }

    // ---------------------------------------------------------------------------------------------

    private List<TestAgent> enrolOverTheWire(Federation f, int n) {
        List<String> tokens = clientService.issueTokens(f.id(), n, Duration.ofMinutes(5), "test").stream()
                .map(ClientService.IssuedToken::token).toList();
        List<TestAgent> out = new ArrayList<>();
        for (String token : tokens) {
            TestAgent agent = TestAgent.connect(grpcServer.getPort());
            agents.add(agent);
            String name = "wire-" + (agents.size() - 1);
            assertThat(agent.enrol(token, name).getFederationId()).isEqualTo(f.id());
            assertThat(agent.heartbeat("idle", -1).getIntervalMs()).isPositive();
            out.add(agent);
        }
        return out;
    }

    private String idOf(Federation f, String name) {
        return clientService.list(f.id()).stream().filter(c -> c.name().equals(name)).findFirst().orElseThrow().id();
    }

    private static TaskResponse awaitTask(TestAgent agent, TaskKind kind) {
        long end = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < end) {
            TaskResponse t = agent.poll(1_000, -1);
            if (t.getKind() == kind) {
                return t;
            }
        }
        throw new AssertionError("no " + kind + " task within " + WAIT);
    }

    private static List<TestAgent.Tensor> randomFactors(TaskResponse task, long seed) {
        List<TestAgent.Tensor> out = new ArrayList<>();
        for (int i = 0; i < task.getExpectedUpdateCount(); i++) {
            out.add(TestAgent.Tensor.random(task.getExpectedUpdate(i), seed * 1000 + i, 0.3));
        }
        return out;
    }

    private long[] counts(String federationId) {
        long updates = jdbc.sql("SELECT count(*) FROM updates u JOIN rounds r ON r.id = u.round_id WHERE r.federation_id = :f::uuid")
                .param("f", federationId).query(Long.class).single();
        long blobs = jdbc.sql("SELECT count(*) FROM blobs").query(Long.class).single();
        long reported = jdbc.sql("SELECT count(*) FROM round_participants p JOIN rounds r ON r.id = p.round_id "
                + "WHERE r.federation_id = :f::uuid AND p.status = 'REPORTED'").param("f", federationId).query(Long.class).single();
        return new long[] {updates, blobs, reported};
    }

    private static INDArray array(TestAgent.Download d, TensorMeta t) {
        long[] shape = t.getShapeList().stream().mapToLong(Long::longValue).toArray();
        return Nd4j.create(d.floats(t.getName()), shape, 'c');
    }

    private static INDArray factor(List<TestAgent.Tensor> tensors, String name) {
        TestAgent.Tensor t = tensors.stream().filter(x -> x.name().equals(name)).findFirst().orElseThrow();
        return Nd4j.create(t.values(), t.shape(), 'c');
    }

    private static TestAgent.Upload copy(TestAgent.Upload u) {
        return new TestAgent.Upload(u.federationId(), u.round(), u.uploadId(), u.numExamples(), u.baseVersion(),
                u.tensors().stream().map(t -> new TestAgent.Tensor(t.name(), t.module(), t.role(), t.shape(),
                        t.values().clone(), t.layout())).toList(), u.chunkBytes(), u.fault());
    }

    /** {@code u} with the first tensor declared for a base weight in {@code layout}. */
    private static TestAgent.Upload relaid(TestAgent.Upload u, WeightLayout layout) {
        List<TestAgent.Tensor> ts = new ArrayList<>(u.tensors());
        ts.set(0, ts.get(0).withLayout(layout));
        return new TestAgent.Upload(u.federationId(), u.round(), u.uploadId(), u.numExamples(), u.baseVersion(), ts,
                u.chunkBytes(), u.fault());
    }

    private static TestAgent.Upload withRound(TestAgent.Upload u, int round) {
        return new TestAgent.Upload(u.federationId(), round, u.uploadId(), u.numExamples(), u.baseVersion(), u.tensors(),
                u.chunkBytes(), u.fault());
    }

    private static TestAgent.Upload renamed(TestAgent.Upload u) {
        List<TestAgent.Tensor> ts = new ArrayList<>(u.tensors());
        TestAgent.Tensor t = ts.get(0);
        ts.set(0, new TestAgent.Tensor(t.name().replace("lora_A", "lora_X"), t.module(), t.role(), t.shape(), t.values(), t.layout()));
        return new TestAgent.Upload(u.federationId(), u.round(), u.uploadId(), u.numExamples(), u.baseVersion(), ts,
                u.chunkBytes(), u.fault());
    }

    private static TestAgent.Upload reshaped(TestAgent.Upload u) {
        List<TestAgent.Tensor> ts = new ArrayList<>(u.tensors());
        TestAgent.Tensor t = ts.get(0);
        long[] flipped = {t.shape()[1], t.shape()[0]};
        ts.set(0, new TestAgent.Tensor(t.name(), t.module(), t.role(), flipped, t.values(), t.layout()));
        return new TestAgent.Upload(u.federationId(), u.round(), u.uploadId(), u.numExamples(), u.baseVersion(), ts,
                u.chunkBytes(), u.fault());
    }
}
