package io.fedlora.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

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
 * One agent reaches the coordinator through a TCP proxy that closes the connection in the middle of
 * its first upload. The agent retries with the same upload id and the coordinator stores the update
 * exactly once.
 */
@ExtendWith(EnvironmentExtension.class)
class UploadConnectionCutTest {

    @Test
    @Timeout(value = 6, unit = java.util.concurrent.TimeUnit.MINUTES)
    void aRetriedUploadAfterACutConnectionIsAcceptedOnce(FederationEnvironment env) throws Exception {
        FederationEnvironment.Coordinator coordinator = env.sharedCoordinator();
        FederationDriver driver = env.driver(coordinator);
        FederationView federation = driver.admin().createFederation(
                TestFederations.spec("fedex", 1, 2, 2, 180, false, env.modelDir()));
        String id = federation.id();
        List<FederationDriver.AgentSpec> specs = TestFederations.agents(env, "cut", env.newDir("cut"), 2);
        List<String> tokens = driver.admin().issueEnrolmentTokens(id, 2, 600);
        List<ChildProcess> agents = new ArrayList<>();
        try (CuttingTcpProxy proxy = new CuttingTcpProxy("127.0.0.1", coordinator.process().settings().grpcPort(), 4096)) {
            for (int i = 0; i < 2; i++) {
                FederationDriver.AgentSpec a = specs.get(i);
                String address = i == 0 ? proxy.address() : coordinator.process().grpcAddress();
                agents.add(env.processes().startAgent(new AgentSettings(a.name(), address, tokens.get(i), a.dataDir(),
                        a.workDir(), List.of())));
            }
            driver.awaitEnrolled(id, 2, Duration.ofMinutes(2), agents);
            driver.admin().start(id);
            FederationView end = driver.awaitFinished(id, Duration.ofMinutes(4), rounds -> { }, agents);
            assertThat(end.status()).isEqualTo("COMPLETED");
            assertThat(proxy.cutHappened()).as("the proxy cut a connection mid-upload").isTrue();

            UUID fid = UUID.fromString(id);
            assertThat(coordinator.database().count("""
                    SELECT count(*) FROM updates u JOIN rounds r ON r.id = u.round_id JOIN clients c ON c.id = u.client_id
                    WHERE r.federation_id = ? AND r.number = 1 AND c.name = ?""", fid, specs.get(0).name()))
                    .as("updates stored for the agent behind the proxy").isEqualTo(1);
            assertThat(coordinator.database().count("""
                    SELECT count(*) FROM round_participants p JOIN rounds r ON r.id = p.round_id
                    WHERE r.federation_id = ? AND r.number = 1 AND r.status = 'PUBLISHED' AND p.status = 'REPORTED'""", fid))
                    .isEqualTo(2);
        } finally {
            agents.forEach(ChildProcess::close);
        }
    }
}
