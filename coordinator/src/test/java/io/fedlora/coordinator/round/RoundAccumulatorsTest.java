package io.fedlora.coordinator.round;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.strategy.AggregationResult;
import io.fedlora.coordinator.client.ClientRepository;
import io.fedlora.coordinator.clientapi.ClientTask;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.federation.FederationModel;
import io.fedlora.coordinator.federation.FederationRepository;
import io.fedlora.coordinator.federation.FederationStatus;
import io.fedlora.coordinator.model.LayerShape;
import io.fedlora.coordinator.model.ModelTensors;
import io.fedlora.coordinator.model.ModelVersion;
import io.fedlora.coordinator.model.ModelVersionRepository;
import io.fedlora.coordinator.support.CoordinatorTestBase;
import io.fedlora.coordinator.support.SimulatedClient;
import io.fedlora.coordinator.support.TinyGpt2;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.springframework.beans.factory.annotation.Autowired;

/**
 * Updates are folded into the round's accumulator as they are accepted; the accumulator's size does not grow with
 * the client count; an accumulator lost (a restart) or out of step with the store is rebuilt from the stored blobs.
 */
class RoundAccumulatorsTest extends CoordinatorTestBase {

    @Autowired RoundAccumulators accumulators;
    @Autowired FederationRepository federationRepository;
    @Autowired RoundRepository rounds;
    @Autowired UpdateRepository updates;
    @Autowired ModelVersionRepository versions;
    @Autowired ClientRepository clients;
    @Autowired ModelTensors tensors;
    @Autowired RoundMetricsRepository roundMetrics;

    /** A second accumulator service on the same database and blobs, with nothing in memory: a restarted coordinator. */
    private RoundAccumulators fresh() {
        return new RoundAccumulators(federationRepository, rounds, updates, versions, clients, tensors,
                new SimpleMeterRegistry());
    }

    @Test
    void eachAcceptedUpdateIsFoldedOnArrivalAndTheAccumulatorStaysTheSameSizeWhateverTheClientCount() {
        int n = 16;
        long[] examples = new long[n];
        java.util.Arrays.fill(examples, 5);
        Federation f = createAndStart(spec(uniqueName("fold"), 1, 2, n, 60, 0, false, "fedex"));
        List<SimulatedClient> cs = enrol(f, examples);
        List<Long> retained = new ArrayList<>();
        for (int i = 0; i < n - 1; i++) {
            cs.get(i).trainOnce(Duration.ofSeconds(10));
            assertThat(accumulators.foldedCount(f.id())).as("folded after %d uploads", i + 1).isEqualTo(i + 1);
            retained.add(accumulators.retainedElements(f.id()).orElseThrow());
        }
        // tiny c_attn: d_out 24, d_in 8, r 4; factors cost 128 per client, dense 192, so from the 2nd client on the
        // accumulator holds one dense sum per layer plus the two factor sums: 192 + 4*(24+8) = 320 per layer
        int layers = TinyGpt2.LAYERS;
        long bound = layers * (24L * 8 + 4L * (24 + 8));
        assertThat(retained.get(0)).isEqualTo(layers * (4L * (24 + 8) + 4L * (24 + 8)));
        assertThat(retained.subList(1, retained.size())).as("2 to %d clients", n - 1).allMatch(r -> r == bound);

        cs.get(n - 1).trainOnce(Duration.ofSeconds(10));
        awaitStatus(f.id(), FederationStatus.COMPLETED, Duration.ofSeconds(20));
        assertThat(accumulators.foldedCount(f.id())).as("handed to the aggregation").isZero();
        RoundMetrics m = roundMetrics.find(rounds.current(f.id(), 1).orElseThrow().id()).orElseThrow();
        assertThat(m.numClients()).isEqualTo(n);
        assertThat(m.exactnessRelError()).isLessThanOrEqualTo(1e-5);
        assertThat(independentRelError(f, cs)).isLessThanOrEqualTo(1e-5);
    }

    @Test
    void aLostAccumulatorIsRebuiltFromTheStoredUpdatesAndGivesTheSameVersion() {
        Federation f = createAndStart(spec(uniqueName("rebuild"), 1, 2, 3, 60, 0, false, "fedex"));
        List<SimulatedClient> cs = new ArrayList<>(enrol(f, 10, 20, 40));
        cs.sort(Comparator.comparing(c -> c.auth().clientName())); // arrival in name order: live and rebuilt sum alike
        cs.get(0).trainOnce(Duration.ofSeconds(10));
        cs.get(1).trainOnce(Duration.ofSeconds(10));
        long roundId = rounds.live(f.id()).orElseThrow().id();

        // a coordinator restarted now has nothing in memory: it rebuilds both updates from their blobs
        RoundAccumulators restarted = fresh();
        RoundAccumulation rebuilt = restarted.take(f.id(), roundId, updates.forAggregationNamed(roundId));
        assertThat(rebuilt.rebuilt()).isEqualTo(2);
        assertThat(rebuilt.aggregator().clientCount()).isEqualTo(2);

        // an accumulator that holds an update the store no longer counts is thrown away, not trusted
        RoundAccumulators stale = fresh();
        List<NamedUpdate> stored = updates.forAggregationNamed(roundId);
        stored.forEach(u -> stale.onAccepted(f.id(), u.update(), null));
        assertThat(stale.foldedCount(f.id())).isEqualTo(2);
        RoundAccumulation trimmed = stale.take(f.id(), roundId, stored.subList(0, 1));
        assertThat(trimmed.rebuilt()).isEqualTo(1);
        assertThat(trimmed.aggregator().clientCount()).isEqualTo(1);

        // the live one matches the rebuilt one bit for bit (same order), and the round still completes exactly
        RoundAccumulation live = accumulators.take(f.id(), roundId, stored);
        assertThat(live.rebuilt()).as("both were folded on arrival").isZero();
        assertThat(bits(live.aggregator().finish())).isEqualTo(bits(rebuilt.aggregator().finish()));
        cs.get(2).trainOnce(Duration.ofSeconds(10)); // folded into a new live accumulator rebuilt from all three
        awaitStatus(f.id(), FederationStatus.COMPLETED, Duration.ofSeconds(20));
        assertThat(independentRelError(f, cs)).isLessThanOrEqualTo(1e-5);
    }

    private static List<Integer> bits(AggregationResult r) {
        List<Integer> out = new ArrayList<>();
        r.global().values().forEach(g -> {
            for (float v : g.a().dup('c').data().asFloat()) {
                out.add(Float.floatToRawIntBits(v));
            }
            for (float v : g.b().dup('c').data().asFloat()) {
                out.add(Float.floatToRawIntBits(v));
            }
        });
        r.residuals().values().forEach(res -> {
            for (float v : res.dense(io.fedlora.aggregation.lora.WeightLayout.LINEAR).dup('c').data().asFloat()) {
                out.add(Float.floatToRawIntBits(v));
            }
        });
        return out;
    }

    /** The published version 1 against {@code sum w_i (W0 + s B_i A_i)}, computed here in double. */
    private double independentRelError(Federation f, List<SimulatedClient> cs) {
        ModelVersion v0 = versions.find(f.id(), 0).orElseThrow();
        ModelVersion v1 = versions.find(f.id(), 1).orElseThrow();
        FederationModel model = federationRepository.model(f.id());
        double s = model.scaling().scale();
        Map<String, INDArray> w0 = tensors.readTargetWeights(v0.weightsBlob(), model.layers());
        Map<String, INDArray> w1 = tensors.readTargetWeights(v1.weightsBlob(), model.layers());
        Map<String, LoraFactors> global = tensors.readAdapter(v1.adapterBlob(), model.layers());
        double total = cs.stream().mapToLong(SimulatedClient::numExamples).sum();
        double err = 0;
        double ref = 0;
        for (LayerShape l : model.layers()) {
            INDArray target = w0.get(l.baseKey()).castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE);
            for (SimulatedClient c : cs) {
                LoraFactors fc = c.lastFactors().get(l.module());
                INDArray ba = fc.b().castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE)
                        .mmul(fc.a().castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE)).transpose();
                target.addi(ba.mul(s * c.numExamples() / total));
            }
            LoraFactors g = global.get(l.module());
            INDArray got = w1.get(l.baseKey()).castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE)
                    .add(g.b().castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE)
                            .mmul(g.a().castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE)).transpose().mul(s));
            double e = got.distance2(target);
            err += e * e;
            ref += Math.pow(target.norm2Number().doubleValue(), 2);
        }
        return Math.sqrt(err / ref);
    }
}
