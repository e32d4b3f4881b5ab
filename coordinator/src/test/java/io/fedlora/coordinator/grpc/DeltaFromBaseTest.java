package io.fedlora.coordinator.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.coordinator.client.ClientService;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.federation.FederationStatus;
import io.fedlora.coordinator.support.CoordinatorTestBase;
import io.fedlora.proto.v1.ModelChunk;
import io.fedlora.proto.v1.TaskKind;
import io.fedlora.proto.v1.TaskResponse;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.TensorRole;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.grpc.server.lifecycle.GrpcServerLifecycle;

/**
 * A client that holds the base model itself (installed from its own disk as version 0) downloads only what it lacks
 * for every published version: the adapter for version 0, the residual for version 1, the adapted layers' weights
 * for version 2, and the state it rebuilds is byte for byte the full state. The manifest it checks its copy against
 * comes without tensor bytes and is not counted as sent; a version it cannot hold gets the full state.
 */
class DeltaFromBaseTest extends CoordinatorTestBase {

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
    void aClientHoldingVersionZeroGetsOnlyTheAdaptedLayersAndTheAdapterOfEveryVersion() {
        Federation f = createAndStart(spec(uniqueName("delta-from-0"), 2, 2, 2, 60, 0, false, "fedex"));
        List<TestAgent> clients = enrol(f, 2);

        TaskResponse first = awaitTask(clients.get(0), TaskKind.TRAIN);
        assertThat(first.getModelVersion()).isZero();
        List<ModelChunk> manifestOnly = clients.get(0).manifestOnly(f.id(), 0, -1);
        assertThat(manifestOnly).as("a manifest and no tensor bytes").hasSize(1);
        assertThat(manifestOnly.get(0).hasManifest()).isTrue();
        assertThat(bytesDown(f, 1)).as("the manifest is not counted as sent").isZero();

        TestAgent.Download v0 = clients.get(0).download(f.id(), 0, -1);
        assertThat(v0.manifest().getBaseVersion()).isEqualTo(-1);
        assertThat(manifestOnly.get(0).getManifest().getTensorsList())
                .as("the manifest-only answer lists exactly the full state's tensors")
                .isEqualTo(v0.manifest().getTensorsList());
        long afterFull = bytesDown(f, 1);
        assertThat(afterFull).isEqualTo(v0.manifest().getTotalBytes());

        TestAgent.Download adapter0 = clients.get(1).download(f.id(), 0, 0);
        assertThat(adapter0.manifest().getBaseVersion()).isZero();
        assertThat(roles(adapter0)).containsOnly(TensorRole.LORA_A, TensorRole.LORA_B);
        assertThat(bytesDown(f, 1) - afterFull).as("counted: the adapter only").isEqualTo(adapter0.manifest().getTotalBytes());

        train(clients, f, 1);
        train(clients, f, 2);
        awaitStatus(f.id(), FederationStatus.COMPLETED, WAIT);

        TestAgent.Download full2 = clients.get(0).download(f.id(), 2, -1);
        assertThat(full2.manifest().getBaseVersion()).isEqualTo(-1);
        Set<String> adapted = v0.manifest().getTensorsList().stream()
                .filter(t -> t.getRole() == TensorRole.LORA_A).map(t -> t.getModule() + ".weight").collect(Collectors.toSet());
        assertThat(adapted).isNotEmpty();

        TestAgent.Download from0 = clients.get(0).download(f.id(), 2, 0);
        assertThat(from0.manifest().getBaseVersion()).as("a delta from version 0, not the full state").isZero();
        assertThat(roles(from0)).containsOnly(TensorRole.BASE, TensorRole.LORA_A, TensorRole.LORA_B);
        assertThat(from0.manifest().getTensorsList().stream().filter(t -> t.getRole() == TensorRole.BASE)
                .map(TensorMeta::getName).collect(Collectors.toSet())).as("only the adapted layers").isEqualTo(adapted);
        assertThat(from0.manifest().getTotalBytes()).isLessThan(full2.manifest().getTotalBytes() / 2);
        assertRebuildsFullState(v0, from0, full2);

        TestAgent.Download from1 = clients.get(0).download(f.id(), 2, 1);
        assertThat(from1.manifest().getBaseVersion()).isEqualTo(1);
        assertThat(roles(from1)).doesNotContain(TensorRole.BASE, TensorRole.FILE)
                .containsAnyOf(TensorRole.RESIDUAL_U, TensorRole.RESIDUAL_DENSE);

        TestAgent.Download from1To1 = clients.get(0).download(f.id(), 1, 0);
        assertThat(from1To1.manifest().getBaseVersion()).as("version 1 from 0: its residual").isZero();
        assertThat(roles(from1To1)).doesNotContain(TensorRole.BASE, TensorRole.FILE);

        assertThat(clients.get(0).download(f.id(), 2, 7).manifest().getBaseVersion())
                .as("a version that was never published: the full state").isEqualTo(-1);
        assertThat(clients.get(0).download(f.id(), 2, -1).manifest().getBaseVersion()).isEqualTo(-1);
    }

    /** Every tensor and file of the full state, taken from the delta where it has it and from version 0 otherwise. */
    private static void assertRebuildsFullState(TestAgent.Download v0, TestAgent.Download delta, TestAgent.Download full) {
        Set<String> inDelta = delta.manifest().getTensorsList().stream().map(TensorMeta::getName).collect(Collectors.toSet());
        for (TensorMeta t : full.manifest().getTensorsList()) {
            byte[] rebuilt = inDelta.contains(t.getName()) ? delta.bytes().get(t.getName()) : v0.bytes().get(t.getName());
            assertThat(rebuilt).as("%s rebuilt from version 0 and the delta", t.getName()).isEqualTo(full.bytes().get(t.getName()));
        }
        assertThat(full.manifest().getTensorsList()).anyMatch(t -> t.getRole() == TensorRole.FILE);
    }

    private void train(List<TestAgent> clients, Federation f, int round) {
        for (int i = 0; i < clients.size(); i++) {
            TaskResponse task = awaitTask(clients.get(i), TaskKind.TRAIN);
            assertThat(task.getRound()).isEqualTo(round);
            List<TestAgent.Tensor> factors = new ArrayList<>();
            for (int k = 0; k < task.getExpectedUpdateCount(); k++) {
                factors.add(TestAgent.Tensor.random(task.getExpectedUpdate(k), round * 10_000L + i * 100 + k, 0.3));
            }
            clients.get(i).upload(new TestAgent.Upload(f.id(), round, "up-" + round + "-" + i, 10 + 10L * i,
                    task.getModelVersion(), factors, 64, TestAgent.Fault.NONE));
        }
    }

    private long bytesDown(Federation f, int round) {
        return jdbc.sql("SELECT bytes_down FROM rounds WHERE federation_id = :f::uuid AND number = :n")
                .param("f", f.id()).param("n", round).query(Long.class).single();
    }

    private static List<TensorRole> roles(TestAgent.Download d) {
        return d.manifest().getTensorsList().stream().map(TensorMeta::getRole).toList();
    }

    private List<TestAgent> enrol(Federation f, int n) {
        List<String> tokens = clientService.issueTokens(f.id(), n, Duration.ofMinutes(5), "test").stream()
                .map(ClientService.IssuedToken::token).toList();
        List<TestAgent> out = new ArrayList<>();
        for (String token : tokens) {
            TestAgent agent = TestAgent.connect(grpcServer.getPort());
            agents.add(agent);
            agent.enrol(token, "base-holder-" + agents.size());
            agent.heartbeat("idle", -1);
            out.add(agent);
        }
        return out;
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
}
