package io.fedlora.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.fedlora.demo.admin.FederationView;
import io.fedlora.demo.process.ChildProcess;
import io.fedlora.demo.run.FederationDriver;
import io.fedlora.it.support.Database;
import io.fedlora.it.support.EnvironmentExtension;
import io.fedlora.it.support.ExactAggregationCheck;
import io.fedlora.it.support.FederationEnvironment;
import io.fedlora.it.support.TestFederations;

/**
 * The coordinator is SIGKILLed twice during a federation — once while round 1 is collecting (some
 * updates acknowledged, not all) and once when round 2 has every update but is not yet published — and
 * restarted on the same data directory and PostgreSQL database. The federation completes, every
 * update acknowledged before a kill is aggregated exactly once, and every published model is still the
 * exact weighted average of its round's updates.
 */
@Tag("e2e")
@ExtendWith(EnvironmentExtension.class)
class CoordinatorRestartTest {

    private static final Logger log = LoggerFactory.getLogger(CoordinatorRestartTest.class);

    @Test
    @Timeout(value = 8, unit = java.util.concurrent.TimeUnit.MINUTES)
    void aKilledCoordinatorResumesWithoutLosingOrDoublingUpdates(FederationEnvironment env) throws Exception {
        FederationEnvironment.Coordinator coordinator = env.startCoordinator("coordinator-restart");
        Database db = coordinator.database();
        FederationDriver driver = env.driver(coordinator);
        FederationView federation = driver.admin().createFederation(
                TestFederations.spec("fedex", 3, 3, 3, 180, false, env.modelDir()));
        String id = federation.id();
        UUID fid = UUID.fromString(id);
        List<ChildProcess> agents = driver.startAgents(id, TestFederations.agents(env, "restart", env.newDir("restart"), 3), List.of());
        try {
            driver.awaitEnrolled(id, 3, Duration.ofMinutes(2), agents);
            driver.admin().start(id);

            List<String> ackedBeforeFirstKill = killWhen(coordinator, db, fid, 1, false);
            coordinator = env.restart(coordinator);
            List<String> ackedBeforeSecondKill = killWhen(coordinator, db, fid, 2, true);
            coordinator = env.restart(coordinator);

            driver = env.driver(coordinator);
            FederationView end = driver.awaitFinished(id, Duration.ofMinutes(5), rounds -> { }, agents);
            assertThat(end.status()).isEqualTo("COMPLETED");

            for (String updateId : concat(ackedBeforeFirstKill, ackedBeforeSecondKill)) {
                assertThat(db.query("""
                        SELECT u.status, r.status AS round_status FROM updates u JOIN rounds r ON r.id = u.round_id
                        WHERE u.id = ?""", UUID.fromString(updateId)))
                        .as("update %s acknowledged before a kill", updateId)
                        .containsExactly(Map.of("status", "AGGREGATED", "round_status", "PUBLISHED"));
            }
            List<Map<String, Object>> published = db.query("""
                    SELECT r.number, m.num_clients,
                           (SELECT count(*) FROM updates u WHERE u.round_id = r.id AND u.status = 'AGGREGATED') AS aggregated,
                           (SELECT count(*) FROM round_participants p WHERE p.round_id = r.id AND p.status = 'REPORTED') AS reported
                    FROM rounds r JOIN round_metrics m ON m.round_id = r.id
                    WHERE r.federation_id = ? AND r.status = 'PUBLISHED' AND r.number > 0 ORDER BY r.number""", fid);
            assertThat(published).hasSize(3);
            for (Map<String, Object> round : published) {
                long aggregated = ((Number) round.get("aggregated")).longValue();
                assertThat(aggregated).as("round %s", round.get("number")).isEqualTo(3);
                assertThat(((Number) round.get("num_clients")).longValue()).isEqualTo(aggregated);
                assertThat(((Number) round.get("reported")).longValue()).isEqualTo(aggregated);
            }
            assertThat(db.count("SELECT count(*) FROM model_versions WHERE federation_id = ?", fid)).isEqualTo(4);
            // and each published model is the exact average of those updates, each counted once
            ExactAggregationCheck.verify(driver, coordinator, id, 3, 3, TestFederations.SCALE, env.modelDir(),
                    env.newDir("restart-export"));
        } finally {
            agents.forEach(ChildProcess::close);
        }
    }

    /**
     * Polls the database and SIGKILLs the coordinator as soon as round {@code round} has at least one
     * acknowledged update ({@code allReported} false) or every selected client reported but no version
     * is published yet ({@code allReported} true). Returns the ids of the updates acknowledged by then.
     */
    private static List<String> killWhen(FederationEnvironment.Coordinator coordinator, Database db, UUID fid, int round,
                                         boolean allReported) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (System.nanoTime() < deadline) {
            List<Map<String, Object>> rows = db.query("""
                    SELECT r.status,
                           (SELECT count(*) FROM round_participants p WHERE p.round_id = r.id) AS selected,
                           (SELECT count(*) FROM updates u WHERE u.round_id = r.id) AS acked,
                           (SELECT count(*) FROM model_versions m WHERE m.round_id = r.id) AS published
                    FROM rounds r WHERE r.federation_id = ? AND r.number = ? AND r.status NOT IN ('RETRIED','FAILED','CANCELLED')""",
                    fid, round);
            if (!rows.isEmpty()) {
                Map<String, Object> r = rows.get(0);
                long selected = ((Number) r.get("selected")).longValue();
                long acked = ((Number) r.get("acked")).longValue();
                long published = ((Number) r.get("published")).longValue();
                boolean hit = published == 0 && (allReported ? acked == selected && selected > 0 : acked >= 1);
                if (hit) {
                    coordinator.process().process().kill();
                    log.info("killed the coordinator in round {} ({}, {} of {} updates acknowledged)", round,
                            r.get("status"), acked, selected);
                    return db.query("""
                            SELECT u.id::text AS id FROM updates u JOIN rounds r ON r.id = u.round_id
                            WHERE r.federation_id = ? AND r.number = ?""", fid, round)
                            .stream().map(m -> m.get("id").toString()).toList();
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError("round " + round + " never reached the kill point");
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new java.util.ArrayList<>(a);
        all.addAll(b);
        return all;
    }
}
