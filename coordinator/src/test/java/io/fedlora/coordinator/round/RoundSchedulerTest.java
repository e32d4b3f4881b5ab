package io.fedlora.coordinator.round;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.coordinator.clientapi.ClientTask;
import io.fedlora.coordinator.clientapi.UploadReceiptInfo;
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
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.springframework.beans.factory.annotation.Autowired;

/** The round state machine driven by simulated clients through the real ClientGateway, against PostgreSQL. */
class RoundSchedulerTest extends CoordinatorTestBase {

    @Autowired ModelVersionRepository versions;
    @Autowired ModelTensors tensors;
    @Autowired FederationRepository federationRepository;
    @Autowired RoundRepository rounds;
    @Autowired RoundMetricsRepository roundMetrics;
    @Autowired EvaluationRepository evaluations;

    @Test
    void aRoundShortOfLiveClientsWaitsInSelectingAndSaysWhy() {
        Federation f = createAndStart(spec(uniqueName("short"), 1, 2, 2, 30, 0, false, "fedex"));
        enrol(f, 10);
        await("the round to say what it waits for", Duration.ofSeconds(10), () -> rounds.live(f.id())
                .filter(r -> r.status() == RoundStatus.SELECTING)
                .map(r -> "waiting for clients: 1 of the 2 needed are connected".equals(r.reason())).orElse(false));

        enrol(f, 20);
        await("the round to collect once a second client is live", Duration.ofSeconds(10), () -> rounds.live(f.id())
                .map(r -> r.status() == RoundStatus.COLLECTING).orElse(false));
        assertThat(rounds.live(f.id()).orElseThrow().reason()).as("the waiting note is cleared").isNull();
    }

    @Test
    void fullRoundWithThreeClientsPublishesAnExactVersion() {
        Federation f = createAndStart(spec(uniqueName("full"), 1, 2, 3, 30, 0, false, "fedex"));
        List<SimulatedClient> clients = enrol(f, 10, 20, 40);
        for (SimulatedClient c : clients) {
            c.trainOnce(Duration.ofSeconds(10));
        }
        awaitStatus(f.id(), FederationStatus.COMPLETED, Duration.ofSeconds(20));

        ModelVersion v0 = versions.find(f.id(), 0).orElseThrow();
        ModelVersion v1 = versions.find(f.id(), 1).orElseThrow();
        FederationModel model = federationRepository.model(f.id());
        double s = model.scaling().scale();
        Map<String, INDArray> w0 = tensors.readTargetWeights(v0.weightsBlob(), model.layers());
        Map<String, INDArray> w1 = tensors.readTargetWeights(v1.weightsBlob(), model.layers());
        Map<String, LoraFactors> global = tensors.readAdapter(v1.adapterBlob(), model.layers());
        double total = clients.stream().mapToLong(SimulatedClient::numExamples).sum();
        for (LayerShape l : model.layers()) {
            // the federated model W0' + s (B'A')^T against the average of the clients' models, in Conv1D layout
            INDArray target = w0.get(l.baseKey()).mul(0);
            for (SimulatedClient c : clients) {
                LoraFactors fc = c.lastFactors().get(l.module());
                INDArray model_i = w0.get(l.baseKey()).add(fc.b().mmul(fc.a()).transpose().mul(s));
                target.addi(model_i.mul(c.numExamples() / total));
            }
            LoraFactors g = global.get(l.module());
            INDArray got = w1.get(l.baseKey()).add(g.b().mmul(g.a()).transpose().mul(s));
            double rel = got.sub(target).norm2Number().doubleValue() / target.norm2Number().doubleValue();
            assertThat(rel).as("exactness of %s", l.module()).isLessThanOrEqualTo(1e-5);
            INDArray fedavg = w0.get(l.baseKey()).add(g.b().mmul(g.a()).transpose().mul(s));
            assertThat(fedavg.sub(target).norm2Number().doubleValue() / target.norm2Number().doubleValue())
                    .as("FedAvg alone is measurably inexact, so the residual mattered").isGreaterThan(1e-4);
        }
        RoundRecord r1 = rounds.current(f.id(), 1).orElseThrow();
        RoundMetrics m = roundMetrics.find(r1.id()).orElseThrow();
        assertThat(m.exactnessRelError()).isLessThanOrEqualTo(1e-5);
        assertThat(m.fedavgDeviationRel()).isGreaterThan(0);
        assertThat(m.numClients()).isEqualTo(3);
        assertThat(m.totalExamples()).isEqualTo(70);
        assertThat(m.trainLoss()).isCloseTo((10 * 102.0 + 20 * 103.0 + 40 * 104.0) / 70, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(m.bytesUp()).isPositive();
        assertThat(v1.residualKind()).isIn(ModelVersion.ResidualKind.FACTORS, ModelVersion.ResidualKind.DENSE);
        assertThat(clients.get(0).poll(Duration.ofSeconds(1))).get().extracting(ClientTask::kind).isEqualTo(ClientTask.Kind.DONE);
    }

    @Test
    void stragglerPastTheDeadlineIsLeftOutAndTheRoundAggregatesTheOthers() {
        Federation f = createAndStart(spec(uniqueName("straggler"), 1, 2, 3, 2, 0, false, "fedex"));
        List<SimulatedClient> clients = enrol(f, 10, 10, 10);
        clients.get(0).trainOnce(Duration.ofSeconds(10));
        clients.get(1).trainOnce(Duration.ofSeconds(10));
        clients.get(2).awaitTask(ClientTask.Kind.TRAIN, Duration.ofSeconds(10));
        awaitStatus(f.id(), FederationStatus.COMPLETED, Duration.ofSeconds(20));
        RoundRecord r1 = rounds.current(f.id(), 1).orElseThrow();
        assertThat(roundMetrics.find(r1.id()).orElseThrow().numClients()).isEqualTo(2);
        assertThat(jdbc.sql("SELECT status FROM round_participants WHERE round_id = :r AND client_id = :c::uuid")
                .param("r", r1.id()).param("c", clients.get(2).id()).query(String.class).single()).isEqualTo("MISSED");
    }

    @Test
    void tooFewReportsRetryTheRoundThenFailTheFederation() {
        Federation f = createAndStart(spec(uniqueName("fail"), 2, 2, 2, 1, 1, false, "fedex"));
        List<SimulatedClient> clients = enrol(f, 10, 10);
        clients.get(0).trainOnce(Duration.ofSeconds(10));
        awaitStatus(f.id(), FederationStatus.FAILED, Duration.ofSeconds(20));
        List<RoundRecord> all = rounds.list(f.id());
        assertThat(all).extracting(RoundRecord::attempt).containsExactly(1, 2);
        assertThat(all).extracting(RoundRecord::status).containsExactly(RoundStatus.RETRIED, RoundStatus.FAILED);
        assertThat(federations.get(f.id()).statusReason()).contains("round 1 failed after 2 attempts").contains("2 needed");
        assertThat(jdbc.sql("SELECT count(*) FROM updates u JOIN rounds r ON r.id = u.round_id WHERE r.federation_id = :f::uuid AND u.status = 'DISCARDED'")
                .param("f", f.id()).query(Long.class).single()).isEqualTo(1);
        assertThat(versions.list(f.id())).extracting(ModelVersion::version).containsExactly(0L);
    }

    @Test
    void duplicateUploadIsAcknowledgedOnceAndCountedOnce() {
        Federation f = createAndStart(spec(uniqueName("dup"), 1, 2, 2, 30, 0, false, "fedex"));
        List<SimulatedClient> clients = enrol(f, 10, 30);
        ClientTask task = clients.get(0).awaitTask(ClientTask.Kind.TRAIN, Duration.ofSeconds(10));
        SimulatedClient.Upload u = clients.get(0).prepare(task);
        UploadReceiptInfo first = clients.get(0).upload(u);
        UploadReceiptInfo again = clients.get(0).upload(u);
        assertThat(first.duplicate()).isFalse();
        assertThat(again.duplicate()).isTrue();
        assertThat(again.updateId()).isEqualTo(first.updateId());
        clients.get(1).trainOnce(Duration.ofSeconds(10));
        awaitStatus(f.id(), FederationStatus.COMPLETED, Duration.ofSeconds(20));
        RoundRecord r1 = rounds.current(f.id(), 1).orElseThrow();
        assertThat(roundMetrics.find(r1.id()).orElseThrow().totalExamples()).isEqualTo(40);
        assertThat(jdbc.sql("SELECT count(*) FROM updates WHERE round_id = :r").param("r", r1.id()).query(Long.class).single())
                .isEqualTo(2);
    }

    @Test
    void evaluationOfInitialAndPublishedVersionsIsExampleWeighted() {
        Federation f = createAndStart(spec(uniqueName("eval"), 1, 2, 2, 30, 0, true, "fedit"));
        List<SimulatedClient> clients = enrol(f, 10, 30);
        for (SimulatedClient c : clients) {
            ClientTask t = c.awaitTask(ClientTask.Kind.EVALUATE, Duration.ofSeconds(10));
            assertThat(t.round()).isZero();
            assertThat(c.evaluate(t, c.numExamples() == 10 ? 1.0 : 3.0, 0.5)).isTrue();
            assertThat(c.evaluate(t, 9.0, 0.5)).as("a second report is a duplicate").isFalse();
        }
        for (SimulatedClient c : clients) {
            c.trainOnce(Duration.ofSeconds(10));
        }
        for (SimulatedClient c : clients) {
            ClientTask t = c.awaitTask(ClientTask.Kind.EVALUATE, Duration.ofSeconds(10));
            assertThat(t.round()).isEqualTo(1);
            assertThat(t.modelVersion()).isEqualTo(1);
            c.evaluate(t, 2.0, c.numExamples() == 10 ? 1.0 : 0.0);
        }
        awaitStatus(f.id(), FederationStatus.COMPLETED, Duration.ofSeconds(20));
        RoundMetrics m0 = roundMetrics.find(rounds.current(f.id(), 0).orElseThrow().id()).orElseThrow();
        assertThat(m0.evalLoss()).isCloseTo((10 * 1.0 + 30 * 3.0) / 40, org.assertj.core.data.Offset.offset(1e-9));
        RoundMetrics m1 = roundMetrics.find(rounds.current(f.id(), 1).orElseThrow().id()).orElseThrow();
        assertThat(m1.evalAccuracy()).isCloseTo(10.0 / 40, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(m1.evalExamples()).isEqualTo(40);
    }

    @Test
    void selectionIsDeterministicAndHonoursTheMinimum() {
        List<String> ids = List.of("a", "b", "c", "d", "e", "f", "g", "h", "i", "j");
        assertThat(ClientSelector.select(ids, 0.3, 2, 42, 1, 1)).hasSize(3)
                .isEqualTo(ClientSelector.select(ids, 0.3, 2, 42, 1, 1));
        assertThat(ClientSelector.select(ids, 0.1, 4, 42, 1, 1)).hasSize(4);
        assertThat(ClientSelector.select(ids.subList(0, 2), 1.0, 4, 42, 1, 1)).hasSize(2);
        assertThat(ClientSelector.select(ids, 0.5, 1, 42, 1, 1)).isNotEqualTo(ClientSelector.select(ids, 0.5, 1, 42, 2, 1));
    }
}
