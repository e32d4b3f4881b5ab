package io.fedlora.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.fedlora.demo.admin.FederationView;
import io.fedlora.demo.process.ChildProcess;
import io.fedlora.demo.run.FederationDriver;
import io.fedlora.it.support.EnvironmentExtension;
import io.fedlora.it.support.ExactAggregationCheck;
import io.fedlora.it.support.ExactAggregationCheck.ModuleError;
import io.fedlora.it.support.FederationEnvironment;
import io.fedlora.it.support.TestFederations;

/**
 * Agents started with {@code --base-model} (the federation's model directory, as a node would point at its HF cache)
 * check it against version 0's manifest, install it as version 0 and download only deltas: the coordinator's download
 * byte counter for the first round stays far below one full state, each agent's log says where version 0 came from,
 * and every round is exact ({@link ExactAggregationCheck}, as in {@link ExactAggregationEndToEndTest}).
 */
@Tag("e2e")
@ExtendWith(EnvironmentExtension.class)
class BaseModelFromDiskEndToEndTest {

    private static final Logger log = LoggerFactory.getLogger(BaseModelFromDiskEndToEndTest.class);
    private static final int ROUNDS = 2;
    private static final int CLIENTS = 2;

    @Test
    @Timeout(value = 8, unit = java.util.concurrent.TimeUnit.MINUTES)
    void agentsHoldingTheBaseDownloadOnlyDeltasAndEveryRoundIsExact(FederationEnvironment env) throws Exception {
        FederationEnvironment.Coordinator coordinator = env.sharedCoordinator();
        FederationDriver driver = env.driver(coordinator);
        Path model = env.modelDir(FederationEnvironment.GPT2);
        FederationView federation = driver.admin().createFederation(
                TestFederations.spec("fedex", ROUNDS, CLIENTS, CLIENTS, 180, false, model, 4, List.of("c_attn")));
        String id = federation.id();
        List<ChildProcess> agents = driver.startAgents(id,
                TestFederations.agents(env, "local-base", env.newDir("local-base"), CLIENTS),
                List.of("--base-model", model.toString()));
        try {
            driver.awaitEnrolled(id, CLIENTS, Duration.ofMinutes(2), agents);
            driver.admin().start(id);
            FederationView end = driver.awaitFinished(id, Duration.ofMinutes(6), rounds -> { }, agents);
            assertThat(end.status()).as("federation end state").isEqualTo("COMPLETED");
        } finally {
            agents.forEach(ChildProcess::close);
        }

        for (ChildProcess agent : agents) {
            String agentLog = Files.readString(agent.logFile());
            assertThat(agentLog).as("log of %s", agent.logFile())
                    .contains("matches version 0 of federation " + id)
                    .contains("model version 0 cached (delta from v0 (the local base model)")
                    .contains("model version 1 cached (delta from v0")
                    .doesNotContain("full state");
        }
        Map<Integer, Long> bytesDown = new TreeMap<>();
        for (Map<String, Object> row : coordinator.database().query(
                "SELECT number, bytes_down FROM rounds WHERE federation_id = ?::uuid AND status = 'PUBLISHED'", id)) {
            bytesDown.put(((Number) row.get("number")).intValue(), ((Number) row.get("bytes_down")).longValue());
        }
        long weights = Files.size(model.resolve("model.safetensors"));
        log.info("bytes sent to clients per round: {} (model.safetensors {} bytes)", bytesDown, weights);
        assertThat(bytesDown).containsKeys(1, 2);
        assertThat(bytesDown.get(1)).as("round 1: %d agents' deltas from version 0, no full state", CLIENTS)
                .isPositive().isLessThan(weights / 4);

        List<ModuleError> errors = ExactAggregationCheck.verify(driver, coordinator, id, ROUNDS, CLIENTS,
                TestFederations.SCALE, model, env.newDir("local-base-export"));
        assertThat(errors).isNotEmpty();
        List<String> misses = new ArrayList<>();
        for (ModuleError e : errors) {
            assertThat(e.fedit()).as("round %d %s: FedIT's B'A' on the same updates is not the average", e.round(), e.module())
                    .isGreaterThan(100 * ExactAggregationCheck.TOLERANCE);
            misses.add(e.round() + ":" + e.module() + "=" + e.exact());
        }
        log.info("exactness per round and module: {}", misses);
    }
}
