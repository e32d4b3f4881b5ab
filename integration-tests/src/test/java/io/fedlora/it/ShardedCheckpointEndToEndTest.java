package io.fedlora.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import com.fasterxml.jackson.databind.JsonNode;

import io.fedlora.demo.admin.FederationSpec;
import io.fedlora.demo.process.ChildProcess;
import io.fedlora.demo.run.FederationDriver;
import io.fedlora.it.support.EnvironmentExtension;
import io.fedlora.it.support.ExactAggregationCheck;
import io.fedlora.it.support.ExactAggregationCheck.ModuleError;
import io.fedlora.it.support.FederationEnvironment;
import io.fedlora.it.support.Matrix;
import io.fedlora.it.support.SafetensorsFile;
import io.fedlora.it.support.ShardSplitter;
import io.fedlora.it.support.TestFederations;

/**
 * init-model's Llama split into two shards ({@code model.safetensors.index.json} + {@code model-0000N-of-00002}) is
 * registered as a base model over REST, the directory is then deleted (the coordinator works from its snapshot), and
 * a 3-client, 2-round FedEx-LoRA federation created from the registered name runs across real processes. Every
 * round's export must be exact in the {@code nn.Linear} layout against the clients' stored updates, on projections of
 * both layers (layer 0 lies in the first shard, layer 1 in the second), and version 0's export must hold every tensor
 * of the unsharded original, unchanged.
 */
@Tag("e2e")
@ExtendWith(EnvironmentExtension.class)
class ShardedCheckpointEndToEndTest {

    private static final int ROUNDS = 2;
    private static final int CLIENTS = 3;
    private static final List<String> TARGETS = List.of("q_proj", "v_proj", "down_proj");

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void aShardedLlamaIsRegisteredFederatedExactlyAndExportedWhole(FederationEnvironment env) throws Exception {
        Path original = env.modelDir(FederationEnvironment.LLAMA);
        Path sharded = env.newDir("sharded-llama");
        try (Stream<Path> files = Files.list(original)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                if (!f.getFileName().toString().equals("model.safetensors")) {
                    Files.copy(f, sharded.resolve(f.getFileName()));
                }
            }
        }
        List<String> shards = ShardSplitter.split(original.resolve("model.safetensors"), sharded, 2);
        assertThat(SafetensorsFile.read(sharded.resolve(shards.get(0)))).containsKey("model.layers.0.self_attn.q_proj.weight");
        assertThat(SafetensorsFile.read(sharded.resolve(shards.get(1)))).containsKey("model.layers.1.mlp.down_proj.weight");
        assertThat(sharded.resolve("model.safetensors")).doesNotExist();

        FederationEnvironment.Coordinator coordinator = env.sharedCoordinator();
        FederationDriver driver = env.driver(coordinator);
        String name = "sharded-llama-" + System.nanoTime();
        HttpResponse<String> registered = driver.admin().exchange("POST", "base-models",
                Map.of("name", name, "path", sharded.toString()), true);
        assertThat(registered.statusCode()).as(registered.body()).isEqualTo(201);
        // the registration snapshot is all the coordinator needs from here on
        try (Stream<Path> walk = Files.walk(sharded)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }

        FederationSpec spec = TestFederations.spec("fedex", ROUNDS, CLIENTS, CLIENTS, 180, false, original, 4, TARGETS);
        @SuppressWarnings("unchecked")
        Map<String, Object> body = new LinkedHashMap<>(env.mapper().convertValue(spec, Map.class));
        body.remove("baseModelPath");
        body.put("baseModel", name);
        HttpResponse<String> created = driver.admin().exchange("POST", "federations", body, true);
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        JsonNode federation = env.mapper().readTree(created.body());
        String id = federation.path("id").asText();

        List<ChildProcess> agents = driver.startAgents(id, TestFederations.agents(env, FederationEnvironment.LLAMA,
                "sharded", env.newDir("sharded-agents"), CLIENTS), List.of());
        try {
            driver.awaitEnrolled(id, CLIENTS, Duration.ofMinutes(2), agents);
            driver.admin().start(id);
            assertThat(driver.awaitFinished(id, Duration.ofMinutes(6), rounds -> { }, agents).status())
                    .as("federation end state").isEqualTo("COMPLETED");
        } finally {
            agents.forEach(ChildProcess::close);
        }

        Path exports = env.newDir("sharded-export");
        List<ModuleError> errors = ExactAggregationCheck.verify(driver, coordinator, id, ROUNDS, CLIENTS, TestFederations.SCALE,
                ExactAggregationCheck.Family.llama(TARGETS), original, exports);
        assertThat(errors).hasSize(2 * TARGETS.size() * ROUNDS);
        assertThat(errors).extracting(ModuleError::module)
                .anyMatch(m -> m.startsWith("model.layers.0.")).anyMatch(m -> m.startsWith("model.layers.1."));
        for (ModuleError e : errors) {
            assertThat(e.fedit()).as("round %d %s: FedIT's B'A' is not the average", e.round(), e.module())
                    .isGreaterThan(100 * ExactAggregationCheck.TOLERANCE);
        }

        Map<String, Matrix> want = SafetensorsFile.read(original.resolve("model.safetensors"));
        for (String file : List.of("base/model.safetensors", "model.safetensors")) { // folded base and merged model
            Map<String, Matrix> v0 = SafetensorsFile.read(exports.resolve("v0").resolve(file));
            assertThat(v0.keySet()).as(file).containsExactlyInAnyOrderElementsOf(want.keySet());
            want.forEach((key, m) -> assertThat(v0.get(key).distance(m)).as("version 0 %s: %s", file, key).isZero());
        }
        assertThat(exports.resolve("v0").resolve("model.safetensors.index.json")).doesNotExist();
    }
}
