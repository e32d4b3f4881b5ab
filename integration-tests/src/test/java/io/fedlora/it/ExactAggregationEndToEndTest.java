package io.fedlora.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.JsonNode;

import io.fedlora.demo.admin.FederationView;
import io.fedlora.demo.process.ChildProcess;
import io.fedlora.demo.run.FederationDriver;
import io.fedlora.it.support.EnvironmentExtension;
import io.fedlora.it.support.ExactAggregationCheck;
import io.fedlora.it.support.ExactAggregationCheck.Layout;
import io.fedlora.it.support.ExactAggregationCheck.ModuleError;
import io.fedlora.it.support.FederationEnvironment;
import io.fedlora.it.support.TestFederations;

/**
 * A 3-client, 3-round FedEx-LoRA federation across real processes. For every round the exported
 * global model (residual-folded base + averaged adapter) must equal the example-weighted average of
 * the clients' effective weights {@code Σ w_i (W_prev + s·B_i A_i)} ({@link ExactAggregationCheck}),
 * and FedIT's formula on the same updates must miss it by far more: the check can tell the two apart. Once on GPT-2
 * ({@code Conv1D} weights, LoRA on {@code c_attn}) and once on init-model's Llama ({@code nn.Linear} weights, LoRA on
 * all seven projections), each judged in the layout its {@code config.json} {@code model_type} states. On the Llama
 * the check also tells the layouts apart: the residual folded with GPT-2's {@code Conv1D} convention (transposed)
 * misses every square projection, and under grouped-query attention {@code k_proj}/{@code v_proj} are not square, so
 * there that fold could not even be added.
 */
@Tag("e2e")
@ExtendWith(EnvironmentExtension.class)
class ExactAggregationEndToEndTest {

    private static final Logger log = LoggerFactory.getLogger(ExactAggregationEndToEndTest.class);
    private static final int ROUNDS = 3;
    private static final int CLIENTS = 3;
    private static final List<String> PROJECTIONS =
            List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");

    @Test
    @Timeout(value = 8, unit = java.util.concurrent.TimeUnit.MINUTES)
    void everyRoundsExportEqualsTheWeightedAverageOfTheClientsModels(FederationEnvironment env) throws Exception {
        checkFederation(env, FederationEnvironment.GPT2, List.of("c_attn"), ExactAggregationCheck.Family.GPT2_C_ATTN);
    }

    @Test
    @Timeout(value = 10, unit = java.util.concurrent.TimeUnit.MINUTES)
    void everyRoundOfALlamaFederationIsExactInTheLinearLayout(FederationEnvironment env) throws Exception {
        Path model = env.modelDir(FederationEnvironment.LLAMA);
        JsonNode config = env.mapper().readTree(model.resolve("config.json").toFile());
        assertThat(config.path("model_type").asText()).isEqualTo("llama");
        ExactAggregationCheck.Family family = ExactAggregationCheck.Family.of(model, PROJECTIONS);
        assertThat(family.layout()).as("layout stated for model_type llama").isEqualTo(Layout.LINEAR);
        Set<String> square = squareProjections(config);
        assertThat(square).as("grouped-query attention: q_proj is square, v_proj is not").contains("q_proj")
                .doesNotContain("v_proj");

        List<ModuleError> errors = checkFederation(env, FederationEnvironment.LLAMA, PROJECTIONS, family);

        int layers = config.path("num_hidden_layers").asInt();
        assertThat(layers).isPositive();
        assertThat(errors).as("every layer's seven projections in every round").hasSize(layers * PROJECTIONS.size() * ROUNDS);
        for (String p : PROJECTIONS) {
            assertThat(errors).extracting(ModuleError::module).as(p).anyMatch(m -> m.endsWith("." + p));
        }
        for (ModuleError e : errors) {
            String projection = e.module().substring(e.module().lastIndexOf('.') + 1);
            if (square.contains(projection)) {
                assertThat(e.transposedFold()).as("round %d %s: the residual folded transposed (Conv1D convention)",
                        e.round(), e.module()).isGreaterThan(100 * ExactAggregationCheck.TOLERANCE);
            } else {
                assertThat(e.transposedFold()).as("round %d %s: a transposed residual does not fit", e.round(), e.module())
                        .isNaN();
            }
        }

        Map<Integer, List<ModuleError>> perRound = errors.stream()
                .collect(Collectors.groupingBy(ModuleError::round, TreeMap::new, Collectors.toList()));
        perRound.forEach((round, es) -> log.info("llama round {}: max relative error of the export {}, merged {} "
                        + "(min FedIT deviation {}, min transposed-fold deviation {})", round,
                es.stream().mapToDouble(ModuleError::exact).max().orElseThrow(),
                es.stream().mapToDouble(ModuleError::merged).max().orElseThrow(),
                es.stream().mapToDouble(ModuleError::fedit).min().orElseThrow(),
                es.stream().mapToDouble(ModuleError::transposedFold).filter(d -> !Double.isNaN(d)).min().orElseThrow()));
    }

    /** The projections whose {@code nn.Linear} weight {@code [d_out, d_in]} is square, from the config's dimensions. */
    private static Set<String> squareProjections(JsonNode config) {
        int hidden = config.path("hidden_size").asInt();
        int headDim = config.path("head_dim").asInt(hidden / config.path("num_attention_heads").asInt());
        int q = config.path("num_attention_heads").asInt() * headDim;
        int kv = config.path("num_key_value_heads").asInt() * headDim;
        int inter = config.path("intermediate_size").asInt();
        Map<String, int[]> shapes = Map.of("q_proj", new int[]{q, hidden}, "k_proj", new int[]{kv, hidden},
                "v_proj", new int[]{kv, hidden}, "o_proj", new int[]{hidden, q}, "gate_proj", new int[]{inter, hidden},
                "up_proj", new int[]{inter, hidden}, "down_proj", new int[]{hidden, inter});
        return shapes.entrySet().stream().filter(e -> e.getValue()[0] == e.getValue()[1]).map(Map.Entry::getKey)
                .collect(Collectors.toSet());
    }

    private List<ModuleError> checkFederation(FederationEnvironment env, String family, List<String> targets,
            ExactAggregationCheck.Family oracle) throws Exception {
        FederationEnvironment.Coordinator coordinator = env.sharedCoordinator();
        FederationDriver driver = env.driver(coordinator);
        FederationView federation = driver.admin().createFederation(
                TestFederations.spec("fedex", ROUNDS, CLIENTS, CLIENTS, 180, false, env.modelDir(family), 4, targets));
        String id = federation.id();
        List<ChildProcess> agents = driver.startAgents(id,
                TestFederations.agents(env, family, "exact-" + family, env.newDir("exact-" + family), CLIENTS), List.of());
        try {
            driver.awaitEnrolled(id, CLIENTS, Duration.ofMinutes(2), agents);
            driver.admin().start(id);
            FederationView end = driver.awaitFinished(id, Duration.ofMinutes(6), rounds -> { }, agents);
            assertThat(end.status()).as("federation end state").isEqualTo("COMPLETED");
        } finally {
            agents.forEach(ChildProcess::close);
        }

        List<ModuleError> errors = ExactAggregationCheck.verify(driver, coordinator, id, ROUNDS, CLIENTS,
                TestFederations.SCALE, oracle, env.modelDir(family), env.newDir("exact-export-" + family));
        assertThat(errors).isNotEmpty();
        for (ModuleError e : errors) {
            assertThat(e.fedit()).as("round %d %s: FedIT's B'A' on the same updates is not the average", e.round(), e.module())
                    .isGreaterThan(100 * ExactAggregationCheck.TOLERANCE);
        }
        return errors;
    }
}
