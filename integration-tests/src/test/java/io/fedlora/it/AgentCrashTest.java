package io.fedlora.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
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
import io.fedlora.demo.admin.RoundView;
import io.fedlora.demo.process.AgentSettings;
import io.fedlora.demo.process.ChildProcess;
import io.fedlora.demo.run.FederationDriver;
import io.fedlora.it.support.EnvironmentExtension;
import io.fedlora.it.support.FederationEnvironment;
import io.fedlora.it.support.TestFederations;

/**
 * An agent is SIGKILLed while it trains in round 1. The round closes at its deadline with the two
 * others (the minimum), and the agent, restarted on the same work directory, rejoins round 2 with its
 * stored credential (no new enrolment) and its cached version 0, so it downloads only the delta to
 * version 1 (its log says so, and the coordinator sent a fraction of a full state in that round).
 */
@Tag("e2e")
@ExtendWith(EnvironmentExtension.class)
class AgentCrashTest {

    private static final Logger log = LoggerFactory.getLogger(AgentCrashTest.class);

    @Test
    @Timeout(value = 7, unit = java.util.concurrent.TimeUnit.MINUTES)
    void aKilledAgentIsMissedThenRejoinsFromItsCache(FederationEnvironment env) throws Exception {
        FederationEnvironment.Coordinator coordinator = env.sharedCoordinator();
        FederationDriver driver = env.driver(coordinator);
        // 40 local steps keep an agent training for about a second, long enough to kill it mid-training;
        // the 30 s deadline closes round 1 without it while its last heartbeat is still recent
        // (under the coordinator's 60 s timeout), so round 2 selects it again
        FederationView federation = driver.admin().createFederation(
                TestFederations.spec("fedex", 3, 2, 2, 30, false, env.modelDir(), 40));
        String id = federation.id();
        UUID fid = UUID.fromString(id);
        List<FederationDriver.AgentSpec> specs = TestFederations.agents(env, "crash", env.newDir("crash"), 3);
        String victimName = specs.get(2).name();
        List<String> tokens = driver.admin().issueEnrolmentTokens(id, 3, 600);
        List<ChildProcess> agents = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                agents.add(start(env, coordinator, specs.get(i), tokens.get(i)));
            }
            driver.awaitEnrolled(id, 3, Duration.ofMinutes(2), agents);
            driver.admin().start(id);

            ChildProcess victim = agents.get(2);
            awaitLog(victim, "round 1: training from version", Duration.ofMinutes(2));
            victim.kill();
            assertThat(Files.readString(victim.logFile())).as("the victim was killed before it uploaded")
                    .doesNotContain("update for round 1 accepted");

            awaitRoundPublished(driver, id, 1, Duration.ofMinutes(2));
            RoundView round1 = driver.admin().rounds(id).stream().filter(r -> r.round() == 1 && r.isPublished())
                    .findFirst().orElseThrow();
            assertThat(round1.reportedCount()).isEqualTo(2);
            assertThat(round1.participants()).filteredOn(p -> p.clientName().equals(victimName))
                    .allSatisfy(p -> assertThat(p.reported()).isFalse());

            ChildProcess restarted = start(env, coordinator, specs.get(2), "token-already-used");
            agents.add(restarted);
            FederationView end = driver.awaitFinished(id, Duration.ofMinutes(4), rounds -> { }, agents.subList(0, 2));
            assertThat(end.status()).isEqualTo("COMPLETED");
            assertThat(coordinator.database().count("SELECT count(*) FROM clients WHERE federation_id = ?", fid))
                    .as("the restarted agent reused its credential").isEqualTo(3);
            assertThat(coordinator.database().count("""
                    SELECT count(*) FROM round_participants p JOIN rounds r ON r.id = p.round_id JOIN clients c ON c.id = p.client_id
                    WHERE r.federation_id = ? AND r.number = 2 AND r.status = 'PUBLISHED' AND p.status = 'REPORTED'
                      AND c.name = ?""", fid, victimName))
                    .as("the restarted agent reported in round 2, the round after the crash").isEqualTo(1);

            // it trained round 2 from version 1, built from the version 0 it had cached before the crash
            String afterRestart = sinceLastStart(Files.readString(restarted.logFile()));
            assertThat(afterRestart).as("log of the restarted agent")
                    .contains("using stored credential")
                    .contains("model version 1 cached (delta from v0")
                    .doesNotContain("full state");
            Map<Integer, Long> bytesDown = new java.util.TreeMap<>();
            for (Map<String, Object> row : coordinator.database().query(
                    "SELECT number, bytes_down FROM rounds WHERE federation_id = ? AND status = 'PUBLISHED'", fid)) {
                bytesDown.put(((Number) row.get("number")).intValue(), ((Number) row.get("bytes_down")).longValue());
            }
            log.info("bytes sent to clients per round: {}", bytesDown);
            // round 1: three full states of version 0; round 2: three deltas v0 -> v1 when the restarted agent
            // used its cache, and at least one full state (a third of round 1) if it had downloaded from scratch
            assertThat(bytesDown.get(1)).as("round 1 sent three full states").isPositive();
            assertThat(3 * bytesDown.get(2)).as("bytes sent in round 2 (x3) vs round 1 %s", bytesDown)
                    .isLessThan(bytesDown.get(1));
        } finally {
            agents.forEach(ChildProcess::close);
        }
    }

    /** The part of a log appended since the launcher's last "=== ... starting:" line (the latest start). */
    private static String sinceLastStart(String text) {
        int marker = text.lastIndexOf("=== ");
        while (marker > 0 && text.charAt(marker - 1) != '\n') {
            marker = text.lastIndexOf("=== ", marker - 1);
        }
        return marker < 0 ? text : text.substring(marker);
    }

    private static ChildProcess start(FederationEnvironment env, FederationEnvironment.Coordinator coordinator,
                                      FederationDriver.AgentSpec a, String token) {
        return env.processes().startAgent(new AgentSettings(a.name(), coordinator.process().grpcAddress(), token,
                a.dataDir(), a.workDir(), List.of()));
    }

    private static void awaitLog(ChildProcess process, String text, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.readString(process.logFile()).contains(text)) {
                return;
            }
            Thread.sleep(25);
        }
        throw new AssertionError(process.name() + " never logged '" + text + "'; log tail:\n" + process.logTail(30));
    }

    private static void awaitRoundPublished(FederationDriver driver, String id, int round, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (driver.admin().rounds(id).stream().anyMatch(r -> r.round() == round && r.isPublished())) {
                return;
            }
            Thread.sleep(500);
        }
        throw new AssertionError("round " + round + " not published within " + timeout.toSeconds() + " s");
    }
}
