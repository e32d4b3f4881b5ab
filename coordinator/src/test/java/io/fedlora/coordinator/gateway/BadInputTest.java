package io.fedlora.coordinator.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fedlora.aggregation.lora.WeightLayout;
import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.coordinator.clientapi.ClientApiException;
import io.fedlora.coordinator.clientapi.ClientTask;
import io.fedlora.coordinator.clientapi.DecodedTensor;
import io.fedlora.coordinator.clientapi.TensorSpec;
import io.fedlora.coordinator.clientapi.UpdateHeaderInfo;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.federation.FederationSpec;
import io.fedlora.coordinator.federation.FederationStatus;
import io.fedlora.coordinator.support.CoordinatorTestBase;
import io.fedlora.coordinator.support.SimulatedClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Every bad update is refused with a reason and leaves the database exactly as it was. */
class BadInputTest extends CoordinatorTestBase {

    private Map<String, Long> counts() {
        Map<String, Long> m = new LinkedHashMap<>();
        for (String t : List.of("updates", "blobs", "round_participants", "round_metrics", "model_versions")) {
            m.put(t, jdbc.sql("SELECT count(*) FROM " + t).query(Long.class).single());
        }
        m.put("reported", jdbc.sql("SELECT count(*) FROM round_participants WHERE status = 'REPORTED'").query(Long.class).single());
        return m;
    }

    private void rejected(SimulatedClient c, SimulatedClient.Upload u, ClientApiException.Kind kind, String reason) {
        Map<String, Long> before = counts();
        assertThatThrownBy(() -> c.upload(u)).isInstanceOfSatisfying(ClientApiException.class, e -> {
            assertThat(e.kind()).isEqualTo(kind);
            assertThat(e.getMessage()).contains(reason);
        });
        assertThat(counts()).isEqualTo(before);
    }

    @Test
    void badUpdatesAreRejectedAndChangeNothing() {
        Federation f = createAndStart(spec(uniqueName("bad"), 1, 2, 2, 60, 0, false, "fedex"));
        List<SimulatedClient> clients = enrol(f, 10, 10);
        SimulatedClient c = clients.get(0);
        ClientTask task = c.awaitTask(ClientTask.Kind.TRAIN, Duration.ofSeconds(10));
        SimulatedClient.Upload good = c.prepare(task);
        UpdateHeaderInfo h = good.header();

        rejected(c, good.withHeader(header(h, h.round() + 5, h.numExamples(), h.baseModelVersion(), h.tensors())),
                ClientApiException.Kind.NOT_FOUND, "round 6");
        rejected(c, good.withHeader(header(h, h.round(), 0, h.baseModelVersion(), h.tensors())),
                ClientApiException.Kind.INVALID_ARGUMENT, "num_examples must be positive");
        // example weighting trusts the declared count: above the federation's bound (default 10^7) it is refused
        rejected(c, good.withHeader(header(h, h.round(), Long.MAX_VALUE, h.baseModelVersion(), h.tensors())),
                ClientApiException.Kind.INVALID_ARGUMENT, "above the federation's maxExamplesPerUpdate of 10000000");
        rejected(c, good.withHeader(header(h, h.round(), 1_000_000_000_000_000L, h.baseModelVersion(), h.tensors())),
                ClientApiException.Kind.INVALID_ARGUMENT, "num_examples 1000000000000000 is above");
        rejected(c, good.withHeader(header(h, h.round(), 10_000_001L, h.baseModelVersion(), h.tensors())),
                ClientApiException.Kind.INVALID_ARGUMENT, "maxExamplesPerUpdate");
        rejected(c, good.withHeader(header(h, h.round(), 5, 7, h.tensors())),
                ClientApiException.Kind.INVALID_ARGUMENT, "trained from version 7");
        List<TensorSpec> wrongShape = new ArrayList<>(h.tensors());
        TensorSpec first = wrongShape.get(0);
        wrongShape.set(0, new TensorSpec(first.name(), first.module(), first.role(), first.dtype(), new long[] {3, 3},
                first.layout()));
        rejected(c, good.withHeader(header(h, h.round(), 5, h.baseModelVersion(), wrongShape)),
                ClientApiException.Kind.INVALID_ARGUMENT, "has shape [3, 3]");
        List<TensorSpec> wrongDtype = new ArrayList<>(h.tensors());
        wrongDtype.set(0, new TensorSpec(first.name(), first.module(), first.role(), DType.F16, first.shape(), first.layout()));
        rejected(c, good.withHeader(header(h, h.round(), 5, h.baseModelVersion(), wrongDtype)),
                ClientApiException.Kind.INVALID_ARGUMENT, "dtype F16");
        assertThat(first.layout()).as("the task names the family's layout of the module").isEqualTo(WeightLayout.CONV1D);
        List<TensorSpec> noLayout = new ArrayList<>(h.tensors());
        noLayout.set(0, new TensorSpec(first.name(), first.module(), first.role(), first.dtype(), first.shape(), null));
        rejected(c, good.withHeader(header(h, h.round(), 5, h.baseModelVersion(), noLayout)),
                ClientApiException.Kind.INVALID_ARGUMENT, "declares no weight layout");
        List<TensorSpec> wrongLayout = new ArrayList<>(h.tensors());
        wrongLayout.set(1, new TensorSpec(h.tensors().get(1).name(), first.module(), h.tensors().get(1).role(), first.dtype(),
                h.tensors().get(1).shape(), WeightLayout.LINEAR));
        rejected(c, good.withHeader(header(h, h.round(), 5, h.baseModelVersion(), wrongLayout)),
                ClientApiException.Kind.INVALID_ARGUMENT, "trained for a LINEAR weight");
        rejected(c, good.withHeader(header(h, h.round(), 5, h.baseModelVersion(), h.tensors().subList(1, h.tensors().size()))),
                ClientApiException.Kind.INVALID_ARGUMENT, "missing tensor");
        rejected(c, good.withTensors(mapFirst(good, v -> { v.putScalar(0, Float.NaN); return v; })),
                ClientApiException.Kind.INVALID_ARGUMENT, "NaN or infinite");
        rejected(c, good.withTensors(mapFirst(good, v -> v.mul(1e6))),
                ClientApiException.Kind.INVALID_ARGUMENT, "above the federation's bound");

        Federation other = createAndStart(spec(uniqueName("other"), 1, 2, 2, 60, 0, false, "fedex"));
        rejected(c, good.withHeader(new UpdateHeaderInfo(other.id(), h.round(), h.uploadId(), h.numExamples(),
                h.baseModelVersion(), h.tensors(), h.metrics())), ClientApiException.Kind.PERMISSION_DENIED, "belongs to federation");

        // the good update still goes through afterwards, and a second one (new upload id) is refused
        assertThat(c.upload(good).duplicate()).isFalse();
        SimulatedClient.Upload second = c.prepare(task);
        rejected(c, second, ClientApiException.Kind.ALREADY_EXISTS, "already accepted");
    }

    /** Declared counts at the highest settable bound: the round's totals stay exact and the round publishes. */
    @Test
    void exampleCountsAtTheBoundAggregateWithoutOverflow() {
        FederationSpec base = spec(uniqueName("bound"), 1, 2, 2, 60, 0, false, "fedex");
        FederationSpec atLimit = new FederationSpec(base.name(), base.baseModelPath(), base.targetModules(), base.rank(),
                base.alpha(), base.useRslora(), base.strategy(), base.weighting(), base.rounds(), base.clientsPerRound(),
                base.roundDeadlineSeconds(), base.minClients(), base.maxRoundRetries(), base.evaluate(), base.training(),
                base.maxUpdateNorm(), null, FederationSpec.MAX_EXAMPLES_LIMIT);
        Federation f = createAndStart(atLimit);
        assertThat(federations.get(f.id()).spec().maxExamplesPerUpdate()).isEqualTo(FederationSpec.MAX_EXAMPLES_LIMIT);
        List<SimulatedClient> clients = enrol(f, FederationSpec.MAX_EXAMPLES_LIMIT, FederationSpec.MAX_EXAMPLES_LIMIT);
        for (SimulatedClient c : clients) {
            SimulatedClient.Upload u = c.prepare(c.awaitTask(ClientTask.Kind.TRAIN, Duration.ofSeconds(10)));
            rejected(c, u.withHeader(header(u.header(), u.header().round(), FederationSpec.MAX_EXAMPLES_LIMIT + 1,
                    u.header().baseModelVersion(), u.header().tensors())), ClientApiException.Kind.INVALID_ARGUMENT,
                    "maxExamplesPerUpdate of " + FederationSpec.MAX_EXAMPLES_LIMIT);
            assertThat(c.upload(u).duplicate()).isFalse();
        }
        awaitStatus(f.id(), FederationStatus.COMPLETED, Duration.ofSeconds(30));
        assertThat(jdbc.sql("SELECT sum(num_examples) FROM updates u JOIN rounds r ON r.id = u.round_id"
                + " WHERE r.federation_id = :f::uuid").param("f", f.id()).query(Long.class).single())
                .isEqualTo(2 * FederationSpec.MAX_EXAMPLES_LIMIT);
    }

    @Test
    void unselectedOrRevokedClientsAreRefused() {
        Federation f = createAndStart(spec(uniqueName("unsel"), 1, 2, 2, 60, 0, false, "fedex"));
        List<SimulatedClient> clients = enrol(f, 10, 10);
        ClientTask task = clients.get(0).awaitTask(ClientTask.Kind.TRAIN, Duration.ofSeconds(10));
        SimulatedClient late = enrol(f, 5).get(0);
        rejected(late, late.prepare(task), ClientApiException.Kind.PERMISSION_DENIED, "was not selected");

        clientService.revokeClient(late.id(), "test");
        assertThatThrownBy(() -> gateway.authenticate("not-a-credential"))
                .isInstanceOfSatisfying(ClientApiException.class, e -> assertThat(e.kind()).isEqualTo(ClientApiException.Kind.UNAUTHENTICATED));
        assertThatThrownBy(() -> gateway.enrol("used-or-unknown", "x", Map.of()))
                .isInstanceOfSatisfying(ClientApiException.class, e -> assertThat(e.kind()).isEqualTo(ClientApiException.Kind.UNAUTHENTICATED));
    }

    private static UpdateHeaderInfo header(UpdateHeaderInfo h, int round, long examples, long base, List<TensorSpec> tensors) {
        return new UpdateHeaderInfo(h.federationId(), round, h.uploadId(), examples, base, tensors, h.metrics());
    }

    private static Map<String, DecodedTensor> mapFirst(SimulatedClient.Upload u, Function<INDArray, INDArray> f) {
        Map<String, DecodedTensor> out = new LinkedHashMap<>(u.tensors());
        String name = out.keySet().iterator().next();
        DecodedTensor d = out.get(name);
        out.put(name, new DecodedTensor(d.spec(), d.sha256(), f.apply(d.values().dup())));
        return out;
    }
}
