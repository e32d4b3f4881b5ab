package io.fedlora.coordinator.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.coordinator.clientapi.ClientTask;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.round.RoundRepository;
import io.fedlora.coordinator.round.RoundStatus;
import io.fedlora.coordinator.support.CoordinatorTestBase;
import io.fedlora.coordinator.support.SimulatedClient;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;

/**
 * The engine asks clients to evaluate and then starts the evaluation's deadline, in two statements: a poll that
 * lands between them finds a pending evaluation with no deadline yet. It must wait, not fail (it answered INTERNAL
 * with a NullPointerException, and the demo's agent exited).
 */
class EvaluationBeforeDeadlineTest extends CoordinatorTestBase {

    @Autowired RoundRepository rounds;

    @Test
    void aPendingEvaluationWithoutADeadlineIsNotOfferedYet() {
        Federation f = createAndStart(spec(uniqueName("eval-deadline"), 1, 2, 2, 30, 0, true, "fedex"));
        List<SimulatedClient> cs = enrol(f, 10, 30);
        await("round 0 to evaluate", Duration.ofSeconds(10), () -> rounds.current(f.id(), 0)
                .map(r -> r.status() == RoundStatus.EVALUATING && r.evalDeadline() != null).orElse(false));
        long roundId = rounds.current(f.id(), 0).orElseThrow().id();

        jdbc.sql("UPDATE rounds SET eval_deadline = NULL WHERE id = :id").param("id", roundId).update();
        Optional<ClientTask> early = cs.get(0).poll(Duration.ofMillis(300));
        assertThat(early).as("no task while the deadline is unset").isEmpty();

        rounds.setEvalDeadline(roundId, java.time.Instant.now().plusSeconds(30));
        ClientTask t = cs.get(0).awaitTask(ClientTask.Kind.EVALUATE, Duration.ofSeconds(10));
        assertThat(t.modelVersion()).isZero();
    }
}
