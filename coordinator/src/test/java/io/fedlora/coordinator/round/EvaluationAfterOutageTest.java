package io.fedlora.coordinator.round;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.coordinator.clientapi.ClientTask;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.federation.FederationStatus;
import io.fedlora.coordinator.support.CoordinatorTestBase;
import io.fedlora.coordinator.support.SimulatedClient;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;

/**
 * A version published while no client has been heard from within the heartbeat timeout (what a coordinator sees
 * right after an outage longer than that timeout) is evaluated once the clients are back, not published as
 * "evaluated over 0 examples".
 */
class EvaluationAfterOutageTest extends CoordinatorTestBase {

    @Autowired RoundRepository rounds;
    @Autowired RoundMetricsRepository roundMetrics;
    @Autowired EvaluationRepository evaluations;
    @Autowired io.fedlora.coordinator.client.HeartbeatLog heartbeatLog;

    @Test
    void aVersionPublishedWhileNoClientIsLiveIsEvaluatedWhenTheyComeBack() {
        Federation f = createAndStart(spec(uniqueName("outage"), 1, 2, 2, 30, 0, true, "fedex"));
        List<SimulatedClient> cs = enrol(f, 10, 30);
        for (SimulatedClient c : cs) {
            c.evaluate(c.awaitTask(ClientTask.Kind.EVALUATE, Duration.ofSeconds(10)), 3.0, 0.5);
        }
        cs.get(0).trainOnce(Duration.ofSeconds(10));
        SimulatedClient.Upload last = cs.get(1).prepare(cs.get(1).awaitTask(ClientTask.Kind.TRAIN, Duration.ofSeconds(10)));

        // the outage: nobody heard from for longer than the heartbeat timeout (what was heard before it, polls
        // included, is written first: heartbeats reach the table in batches)
        heartbeatLog.flush();
        jdbc.sql("UPDATE clients SET last_heartbeat = now() - interval '1 day' WHERE federation_id = :f")
                .param("f", UUID.fromString(f.id())).update();
        cs.get(1).upload(last); // the round is complete: version 1 is published with no live client to evaluate it

        await("the evaluation to wait for a live client", Duration.ofSeconds(10), () -> rounds.current(f.id(), 1)
                .map(r -> r.status() == RoundStatus.EVALUATING
                        && "waiting for a live client to evaluate version 1".equals(r.reason())).orElse(false));
        long roundId = rounds.current(f.id(), 1).orElseThrow().id();
        assertThat(evaluations.assigned(roundId)).isZero();
        assertThat(status(f.id())).isEqualTo(FederationStatus.RUNNING);

        // the clients come back (their agents heartbeat again) and get the evaluation
        for (SimulatedClient c : cs) {
            gateway.heartbeat(c.auth(), "idle", 1L, "test");
        }
        for (SimulatedClient c : cs) {
            ClientTask t = c.awaitTask(ClientTask.Kind.EVALUATE, Duration.ofSeconds(10));
            assertThat(t.modelVersion()).isEqualTo(1);
            c.evaluate(t, c.numExamples() == 10 ? 1.0 : 2.0, 0.75);
        }
        awaitStatus(f.id(), FederationStatus.COMPLETED, Duration.ofSeconds(20));
        RoundMetrics m = roundMetrics.find(roundId).orElseThrow();
        assertThat(m.evalExamples()).isEqualTo(40);
        assertThat(m.evalLoss()).isCloseTo((10 * 1.0 + 30 * 2.0) / 40, org.assertj.core.data.Offset.offset(1e-9));
        assertThat(rounds.current(f.id(), 1).orElseThrow().reason()).as("the waiting note is cleared").isNull();
    }
}
