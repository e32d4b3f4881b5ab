package io.fedlora.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import com.fasterxml.jackson.databind.JsonNode;

import io.fedlora.demo.admin.FederationView;
import io.fedlora.demo.process.ChildProcess;
import io.fedlora.demo.run.FederationDriver;
import io.fedlora.demo.status.StatusCommand;
import io.fedlora.it.support.EnvironmentExtension;
import io.fedlora.it.support.FederationEnvironment;
import io.fedlora.it.support.TestFederations;

/**
 * {@code ./fedlora status} against a real coordinator process after a 2-round federation of real agents: the
 * federation list, the round history table (one line per round, exactness error and evaluation filled in) and the
 * same as JSON on stdout; a wrong key and an unknown federation are errors on stderr with exit code 1.
 */
@Tag("e2e")
@ExtendWith(EnvironmentExtension.class)
class StatusCommandEndToEndTest {

    private record Result(int code, String out, String err) {}

    private static Result status(Map<String, String> env, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = StatusCommand.run(args, new PrintWriter(out), new PrintWriter(err), env);
        return new Result(code, out.toString(), err.toString());
    }

    @Test
    @Timeout(value = 6, unit = java.util.concurrent.TimeUnit.MINUTES)
    void showsTheRoundHistoryOfAFederationThatRan(FederationEnvironment env) throws Exception {
        FederationEnvironment.Coordinator coordinator = env.sharedCoordinator();
        FederationDriver driver = env.driver(coordinator);
        FederationView federation = driver.admin().createFederation(
                TestFederations.spec("fedex", 2, 2, 2, 180, true, env.modelDir()));
        String id = federation.id();
        List<ChildProcess> agents = driver.startAgents(id, TestFederations.agents(env, "status", env.newDir("status"), 2),
                List.of());
        try {
            driver.awaitEnrolled(id, 2, Duration.ofMinutes(2), agents);
            driver.admin().start(id);
            assertThat(driver.awaitFinished(id, Duration.ofMinutes(4), rounds -> { }, agents).status()).isEqualTo("COMPLETED");
            driver.awaitFinalEvaluation(id, Duration.ofSeconds(90), rounds -> { });
        } finally {
            agents.forEach(ChildProcess::close);
        }
        String url = coordinator.process().baseUri().toString();
        Map<String, String> withKey = Map.of("FEDLORA_ADMIN_API_KEY", coordinator.process().apiKey());

        Result list = status(withKey, "--coordinator", url);
        assertThat(list.code()).as(list.err()).isZero();
        assertThat(list.out()).contains(id, federation.json().path("name").asText(), "COMPLETED", "2/2");

        Result table = status(withKey, "--coordinator", url, "--federation", id);
        assertThat(table.code()).as(table.err()).isZero();
        List<String> lines = table.out().lines().toList();
        assertThat(lines.get(0)).contains("COMPLETED", "fedex", "round 2/2");
        assertThat(lines.get(1)).contains("round", "state", "clients", "exactness", "fedavg_dev", "eval_loss", "eval_acc");
        assertThat(lines.subList(3, lines.size())).as("rounds 0 (base evaluation), 1, 2").hasSize(3);
        assertThat(lines.get(4)).matches("1\\s+1\\s+PUBLISHED\\s+2/2\\s+\\d\\.\\d\\de-\\d\\d\\s+\\d\\.\\d\\de[-+]\\d\\d\\s+\\d+\\.\\d{4}\\s+\\d+\\.\\d%.*");
        assertThat(table.err()).isEmpty();

        Path keyFile = Files.writeString(env.newDir("status-key").resolve("admin-api-key"), coordinator.process().apiKey());
        Result json = status(Map.of(), "--coordinator", url, "--federation", id, "--json", "--api-key-file", keyFile.toString());
        assertThat(json.code()).as(json.err()).isZero();
        JsonNode doc = env.mapper().readTree(json.out());
        assertThat(doc.path("federation").path("id").asText()).isEqualTo(id);
        assertThat(doc.path("rounds")).hasSize(3);
        assertThat(doc.path("rounds").get(2).path("metrics").path("exactness_rel_error").asDouble()).isLessThan(1e-4);
        assertThat(doc.path("rounds").get(2).path("metrics").path("eval_loss").isNumber()).isTrue();

        Result wrongKey = status(Map.of("FEDLORA_ADMIN_API_KEY", "wrong"), "--coordinator", url);
        assertThat(wrongKey.code()).isEqualTo(1);
        assertThat(wrongKey.err()).contains("refused the API key (401)");
        assertThat(wrongKey.out()).isEmpty();
        Result unknown = status(withKey, "--coordinator", url, "--federation", "00000000-0000-0000-0000-000000000000");
        assertThat(unknown.code()).isEqualTo(1);
        assertThat(unknown.err()).contains("no federation 00000000-0000-0000-0000-000000000000");
    }
}
