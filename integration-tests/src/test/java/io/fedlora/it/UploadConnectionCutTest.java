package io.fedlora.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.fedlora.demo.admin.FederationView;
import io.fedlora.demo.process.AgentSettings;
import io.fedlora.demo.process.ChildProcess;
import io.fedlora.demo.run.FederationDriver;
import io.fedlora.it.support.CuttingTcpProxy;
import io.fedlora.it.support.EnvironmentExtension;
import io.fedlora.it.support.FederationEnvironment;
import io.fedlora.it.support.TestFederations;

/**
 * One agent reaches the coordinator through a TCP proxy that breaks the connection carrying its first
 * upload: either in the middle of the upload, or after the whole upload went through but before the
 * coordinator's acknowledgement came back. The agent retries with the same upload id and the
 * coordinator stores the update exactly once (the second time it answers that the retry is a duplicate).
 */
@Tag("e2e")
@ExtendWith(EnvironmentExtension.class)
class UploadConnectionCutTest {

    /** Larger than any heartbeat or poll, smaller than one upload (16 KiB of adapter factors here). */
    private static final int UPLOAD_BURST_BYTES = 4096;
    /** The agent's log line for a failed upload attempt that it retries. */
    /** The agent's log line for the final outcome of its round-1 upload. */
    private static final Pattern UPLOAD_OUTCOME = Pattern.compile(
            "update for round 1 (accepted .*\\(\\d+ bytes\\)|not delivered)|coordinator rejected the update for round 1");
    private static final String UPLOAD_RETRIED = "Upload round 1 \\(upload [0-9a-f-]+\\) failed .*retrying";

    @Test
    @Timeout(value = 6, unit = java.util.concurrent.TimeUnit.MINUTES)
    void aRetriedUploadAfterACutConnectionIsAcceptedOnce(FederationEnvironment env) throws Exception {
        FederationEnvironment.Coordinator coordinator = env.sharedCoordinator();
        try (CuttingTcpProxy proxy = new CuttingTcpProxy("127.0.0.1", coordinator.process().settings().grpcPort(),
                UPLOAD_BURST_BYTES, CuttingTcpProxy.Mode.CUT_MID_UPLOAD)) {
            Federation f = runBehindProxy(env, coordinator, proxy, "cut", () -> { });
            assertThat(proxy.cutHappened()).as("the proxy cut a connection mid-upload").isTrue();
            assertThat(f.proxiedAgentLog()).as("log of the agent behind the proxy")
                    .containsPattern(UPLOAD_RETRIED)
                    .contains("update for round 1 accepted")
                    .doesNotContain("(duplicate of an earlier attempt)");
        }
    }

    @Test
    @Timeout(value = 6, unit = java.util.concurrent.TimeUnit.MINUTES)
    void aRetryAfterALostAcknowledgementIsADuplicate(FederationEnvironment env) throws Exception {
        FederationEnvironment.Coordinator coordinator = env.sharedCoordinator();
        try (CuttingTcpProxy proxy = new CuttingTcpProxy("127.0.0.1", coordinator.process().settings().grpcPort(),
                UPLOAD_BURST_BYTES, CuttingTcpProxy.Mode.HOLD_REPLIES)) {
            Federation f = runBehindProxy(env, coordinator, proxy, "ack-lost", () -> {
                // the upload went through; once the coordinator has stored it, break the connection
                // before the agent hears so
                assertThat(proxy.awaitHolding(Duration.ofMinutes(2))).as("an upload passed the proxy").isTrue();
                awaitStoredUpdate(coordinator, "ack-lost-client-0", Duration.ofMinutes(1));
                proxy.cutHeld();
            });
            assertThat(f.proxiedAgentLog()).as("log of the agent behind the proxy")
                    .containsPattern(UPLOAD_RETRIED)
                    .contains("update for round 1 accepted")
                    .contains("(duplicate of an earlier attempt)");
        }
    }

    /** What a federation behind the proxy left: its id and the proxied agent's log. */
    private record Federation(String id, String proxiedAgentLog) {
    }

    private interface Step {
        void run() throws Exception;
    }

    /**
     * Runs a 1-round, 2-client federation in which client 0 talks through {@code proxy}; {@code duringRound}
     * runs after the start. Checks the federation completed with both reports and one stored update each.
     */
    private static Federation runBehindProxy(FederationEnvironment env, FederationEnvironment.Coordinator coordinator,
                                             CuttingTcpProxy proxy, String prefix, Step duringRound) throws Exception {
        FederationDriver driver = env.driver(coordinator);
        FederationView federation = driver.admin().createFederation(
                TestFederations.spec("fedex", 1, 2, 2, 180, false, env.modelDir()));
        String id = federation.id();
        List<FederationDriver.AgentSpec> specs = TestFederations.agents(env, prefix, env.newDir(prefix), 2);
        List<String> tokens = driver.admin().issueEnrolmentTokens(id, 2, 600);
        List<ChildProcess> agents = new ArrayList<>();
        try {
            for (int i = 0; i < 2; i++) {
                FederationDriver.AgentSpec a = specs.get(i);
                String address = i == 0 ? proxy.address() : coordinator.process().grpcAddress();
                agents.add(env.processes().startAgent(new AgentSettings(a.name(), address, tokens.get(i), a.dataDir(),
                        a.workDir(), List.of())));
            }
            driver.awaitEnrolled(id, 2, Duration.ofMinutes(2), agents);
            driver.admin().start(id);
            duringRound.run();
            FederationView end = driver.awaitFinished(id, Duration.ofMinutes(4), rounds -> { }, agents);
            assertThat(end.status()).isEqualTo("COMPLETED");

            UUID fid = UUID.fromString(id);
            for (FederationDriver.AgentSpec a : specs) {
                assertThat(coordinator.database().count("""
                        SELECT count(*) FROM updates u JOIN rounds r ON r.id = u.round_id JOIN clients c ON c.id = u.client_id
                        WHERE r.federation_id = ? AND r.number = 1 AND c.name = ?""", fid, a.name()))
                        .as("updates stored for %s", a.name()).isEqualTo(1);
            }
            assertThat(coordinator.database().count("""
                    SELECT count(*) FROM round_participants p JOIN rounds r ON r.id = p.round_id
                    WHERE r.federation_id = ? AND r.number = 1 AND r.status = 'PUBLISHED' AND p.status = 'REPORTED'""", fid))
                    .isEqualTo(2);
            // the round can close on the coordinator's side before the agent has heard the answer to its retry
            return new Federation(id, awaitLog(agents.get(0), UPLOAD_OUTCOME, Duration.ofMinutes(1)));
        } finally {
            agents.forEach(ChildProcess::close);
        }
    }

    /** Waits until the agent's log matches {@code pattern} and returns the log. */
    private static String awaitLog(ChildProcess agent, Pattern pattern, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            String text = Files.readString(agent.logFile());
            if (pattern.matcher(text).find()) {
                return text;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError(agent.name() + " never logged /" + pattern + "/; log tail:\n" + agent.logTail(30));
            }
            Thread.sleep(50);
        }
    }

    private static void awaitStoredUpdate(FederationEnvironment.Coordinator coordinator, String clientName, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (coordinator.database().count("""
                    SELECT count(*) FROM updates u JOIN clients c ON c.id = u.client_id WHERE c.name = ?""", clientName) > 0) {
                return;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("the coordinator stored no update of " + clientName + " within " + timeout.toSeconds() + " s");
    }
}
