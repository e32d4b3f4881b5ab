package io.fedlora.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.fedlora.demo.admin.AdminClient;
import io.fedlora.demo.admin.FederationView;
import io.fedlora.it.support.Database;
import io.fedlora.it.support.EnvironmentExtension;
import io.fedlora.it.support.FederationEnvironment;
import io.fedlora.it.support.RawFederationClient;
import io.fedlora.it.support.TestFederations;
import io.fedlora.it.support.UpdateBuilder;
import io.fedlora.proto.v1.EnrolResponse;
import io.fedlora.proto.v1.TaskKind;
import io.fedlora.proto.v1.TaskResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/**
 * A coordinator process is SIGKILLed while a round with evaluation waits for its last update, stays down longer than
 * its heartbeat timeout, and is restarted on the same database; the last update arrives before any client has been
 * heard from again, so version 1 is published while no client counts as live. It used to be published with "eval loss
 * null over 0 examples" and never evaluated; now the evaluation waits for a live client, and when the clients poll
 * again they are asked, report, and the federation completes with their example-weighted evaluation.
 */
@Tag("e2e")
@ExtendWith(EnvironmentExtension.class)
class EvaluationAfterOutageEndToEndTest {

    private static final String HEARTBEAT_TIMEOUT = "5s";

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void aVersionPublishedRightAfterALongOutageIsEvaluatedWhenTheClientsComeBack(FederationEnvironment env)
            throws Exception {
        FederationEnvironment.Coordinator coordinator = env.startCoordinator("coordinator-outage",
                List.of("--fedlora.scheduler.heartbeat-timeout=" + HEARTBEAT_TIMEOUT), args -> args);
        Database db = coordinator.database();
        AdminClient admin = env.admin(coordinator);
        FederationView federation = admin.createFederation(TestFederations.spec("fedex", 1, 2, 2, 600, true, env.modelDir()));
        String id = federation.id();
        UUID fid = UUID.fromString(id);
        List<String> tokens = admin.issueEnrolmentTokens(id, 2, 600);
        EnrolResponse a;
        EnrolResponse b;
        TaskResponse trainB;
        try (RawFederationClient wire = new RawFederationClient(coordinator.process().grpcAddress())) {
            a = wire.enrol(tokens.get(0), "outage-a");
            b = wire.enrol(tokens.get(1), "outage-b");
            admin.start(id);
            // both evaluate the initial model, then get round 1's task (polling in turn keeps both live)
            TaskResponse trainA = null;
            trainB = null;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
            while ((trainA == null || trainB == null) && System.nanoTime() < deadline) {
                if (trainA == null) {
                    trainA = trainOrEvaluate(wire, a.getCredential(), 10, 3.0);
                }
                if (trainB == null) {
                    trainB = trainOrEvaluate(wire, b.getCredential(), 30, 3.0);
                }
            }
            assertThat(trainA).as("round 1's task for client a").isNotNull();
            assertThat(trainB).as("round 1's task for client b").isNotNull();
            assertThat(wire.upload(a.getCredential(), new UpdateBuilder(trainA, 1).numExamples(10).chunks()).getDuplicate())
                    .isFalse();
        }

        // the outage: longer than the heartbeat timeout (the restart alone takes longer still)
        coordinator.process().process().kill();
        Thread.sleep(Duration.parse("PT" + HEARTBEAT_TIMEOUT).toMillis() + 1000);
        coordinator = env.restart(coordinator);
        try (RawFederationClient wire = new RawFederationClient(coordinator.process().grpcAddress())) {
            // the last update, before either client has polled or heartbeated again: version 1 is published
            // with no live client to evaluate it
            assertThat(wire.upload(b.getCredential(), new UpdateBuilder(trainB, 2).numExamples(30).chunks()).getDuplicate())
                    .isFalse();
            Map<String, Object> waiting = awaitRound(db, fid, Duration.ofSeconds(30));
            assertThat(waiting).as("round 1 after its last update").containsEntry("status", "EVALUATING")
                    .containsEntry("reason", "waiting for a live client to evaluate version 1");
            assertThat(db.count("SELECT count(*) FROM model_versions WHERE federation_id = ? AND version = 1", fid))
                    .isEqualTo(1);
            assertThat(db.count("""
                    SELECT count(*) FROM evaluations e JOIN rounds r ON r.id = e.round_id
                    WHERE r.federation_id = ? AND r.number = 1""", fid)).as("no client asked while none is live").isZero();
            assertThat(admin.federation(id).status()).as("not completed without an evaluation").isEqualTo("RUNNING");

            // the clients come back: each is asked to evaluate version 1 and reports
            TaskResponse evalA = awaitTask(wire, a.getCredential(), TaskKind.EVALUATE);
            TaskResponse evalB = awaitTask(wire, b.getCredential(), TaskKind.EVALUATE);
            assertThat(evalA.getModelVersion()).isEqualTo(1);
            assertThat(evalB.getModelVersion()).isEqualTo(1);
            // an example count above the federation's bound weighs nothing: refused, nothing recorded
            assertThatThrownBy(() -> wire.reportEvaluation(a.getCredential(), evalA, Long.MAX_VALUE, 1.0, 0.5))
                    .isInstanceOfSatisfying(StatusRuntimeException.class, e -> assertThat(e.getStatus().getCode())
                            .as(e.getStatus().toString()).isEqualTo(Status.Code.INVALID_ARGUMENT));
            assertThat(db.count("""
                    SELECT count(*) FROM evaluations e JOIN rounds r ON r.id = e.round_id
                    WHERE r.federation_id = ? AND r.number = 1 AND e.status = 'REPORTED'""", fid)).isZero();
            wire.reportEvaluation(a.getCredential(), evalA, 10, 1.0, 0.5);
            wire.reportEvaluation(b.getCredential(), evalB, 30, 2.0, 0.25);
            awaitStatus(admin, id, "COMPLETED", Duration.ofSeconds(60));
        } finally {
            if (!"COMPLETED".equals(admin.federation(id).status())) {
                admin.cancel(id);
            }
        }
        Map<String, Object> metrics = db.query("""
                SELECT m.eval_examples, m.eval_loss, r.reason FROM round_metrics m JOIN rounds r ON r.id = m.round_id
                WHERE r.federation_id = ? AND r.number = 1 AND r.status = 'PUBLISHED'""", fid).get(0);
        assertThat(((Number) metrics.get("eval_examples")).longValue()).isEqualTo(40);
        assertThat(((Number) metrics.get("eval_loss")).doubleValue()).isCloseTo((10 * 1.0 + 30 * 2.0) / 40,
                org.assertj.core.data.Offset.offset(1e-9));
        assertThat(metrics.get("reason")).as("the waiting note is cleared").isNull();
    }

    /** One poll: answers an EVALUATE task with a report, returns a TRAIN task, null otherwise. */
    private static TaskResponse trainOrEvaluate(RawFederationClient wire, String credential, long examples, double loss) {
        TaskResponse t = wire.task(credential, 1000);
        if (t.getKind() == TaskKind.EVALUATE) {
            wire.reportEvaluation(credential, t, examples, loss, 0.1);
            return null;
        }
        return t.getKind() == TaskKind.TRAIN ? t : null;
    }

    private static TaskResponse awaitTask(RawFederationClient wire, String credential, TaskKind kind) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            TaskResponse t = wire.task(credential, 2000);
            if (t.getKind() == kind) {
                return t;
            }
        }
        throw new AssertionError("no " + kind + " task within 30 s");
    }

    /**
     * Round 1's live attempt once the engine has looked at it after aggregation (status and reason): past EVALUATING,
     * or EVALUATING with a reason. The aggregation itself enters EVALUATING with no reason; the engine's next step
     * either asks live clients or notes that it waits for one, so a row without a reason is not yet an answer.
     */
    private static Map<String, Object> awaitRound(Database db, UUID fid, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<Map<String, Object>> rows = List.of();
        while (System.nanoTime() < deadline) {
            rows = db.query("""
                    SELECT status, reason FROM rounds WHERE federation_id = ? AND number = 1
                    AND status NOT IN ('RETRIED', 'FAILED', 'CANCELLED')""", fid);
            if (!rows.isEmpty()) {
                Object status = rows.get(0).get("status");
                boolean decided = "EVALUATING".equals(status) ? rows.get(0).get("reason") != null
                        : !List.of("SELECTING", "COLLECTING", "AGGREGATING").contains(status);
                if (decided) {
                    return rows.get(0);
                }
            }
            Thread.sleep(100);
        }
        throw new AssertionError("round 1 still " + rows + " after " + timeout);
    }

    private static void awaitStatus(AdminClient admin, String id, String status, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        String last = null;
        while (System.nanoTime() < deadline) {
            last = admin.federation(id).status();
            if (status.equals(last)) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("federation " + id + " is " + last + ", not " + status + ", after " + timeout);
    }
}
