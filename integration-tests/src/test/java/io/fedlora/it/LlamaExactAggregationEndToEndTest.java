package io.fedlora.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
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
 * A 3-client, 2-round FedEx-LoRA federation on init-model's Llama ({@code --family llama}: {@code nn.Linear}
 * projections, grouped-query attention) with LoRA on {@code q_proj} and {@code v_proj}, across real processes. Every
 * round's export must equal {@code Σ w_i (W_prev + s·B_i A_i)} in float64 in the layout the checkpoint's
 * {@code config.json} {@code model_type} states ({@code nn.Linear}: {@code W [d_out, d_in]}, delta {@code s·B·A}).
 * The check is shown to discriminate on the same data: FedIT's {@code W + s·B'A'} misses it, and so does the
 * residual folded with GPT-2's {@code Conv1D} convention (transposed) on the square {@code q_proj}; on the
 * non-square {@code v_proj} that fold could not even be added.
 */
@Tag("e2e")
@ExtendWith(EnvironmentExtension.class)
class LlamaExactAggregationEndToEndTest {

    private static final Logger log = LoggerFactory.getLogger(LlamaExactAggregationEndToEndTest.class);
    private static final int ROUNDS = 2;
    private static final int CLIENTS = 3;
    private static final List<String> TARGETS = List.of("q_proj", "v_proj");

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void everyRoundOfALlamaFederationIsExactInTheLinearLayout(FederationEnvironment env) throws Exception {
        Path model = env.llamaModelDir();
        JsonNode config = env.mapper().readTree(model.resolve("config.json").toFile());
        assertThat(config.path("model_type").asText()).isEqualTo("llama");
        ExactAggregationCheck.Family family = ExactAggregationCheck.Family.of(model, TARGETS);
        assertThat(family.layout()).as("layout stated for model_type llama").isEqualTo(Layout.LINEAR);

        FederationEnvironment.Coordinator coordinator = env.sharedCoordinator();
        FederationDriver driver = env.driver(coordinator);
        FederationView federation = driver.admin().createFederation(
                TestFederations.spec("fedex", ROUNDS, CLIENTS, CLIENTS, 180, false, model, 4, TARGETS));
        String id = federation.id();
        List<ChildProcess> agents = driver.startAgents(id, TestFederations.agents(env, FederationEnvironment.LLAMA,
                "llama-exact", env.newDir("llama-exact"), CLIENTS), List.of());
        try {
            driver.awaitEnrolled(id, CLIENTS, Duration.ofMinutes(2), agents);
            driver.admin().start(id);
            FederationView end = driver.awaitFinished(id, Duration.ofMinutes(6), rounds -> { }, agents);
            assertThat(end.status()).as("federation end state").isEqualTo("COMPLETED");
        } finally {
            agents.forEach(ChildProcess::close);
        }

        List<ModuleError> errors = ExactAggregationCheck.verify(driver, coordinator, id, ROUNDS, CLIENTS,
                TestFederations.SCALE, family, model, env.newDir("llama-exact-export"));

        int layers = config.path("num_hidden_layers").asInt();
        assertThat(layers).isPositive();
        assertThat(errors).as("every layer's q_proj and v_proj in every round").hasSize(layers * TARGETS.size() * ROUNDS);
        assertThat(errors).extracting(ModuleError::module)
                .anyMatch(m -> m.endsWith("self_attn.q_proj")).anyMatch(m -> m.endsWith("self_attn.v_proj"));
        assertThat(config.path("num_key_value_heads").asInt()).as("grouped-query attention: v_proj is not square")
                .isLessThan(config.path("num_attention_heads").asInt());
        for (ModuleError e : errors) {
            assertThat(e.fedit()).as("round %d %s: FedIT's B'A' on the same updates is not the average", e.round(), e.module())
                    .isGreaterThan(100 * ExactAggregationCheck.TOLERANCE);
            if (e.module().endsWith("q_proj")) {
                assertThat(e.transposedFold()).as("round %d %s: the residual folded transposed (Conv1D convention)",
                        e.round(), e.module()).isGreaterThan(100 * ExactAggregationCheck.TOLERANCE);
            } else {
                assertThat(e.transposedFold()).as("round %d %s: a transposed residual does not fit", e.round(), e.module())
                        .isNaN();
            }
        }

        Map<Integer, Double> maxPerRound = errors.stream().collect(Collectors.groupingBy(ModuleError::round, TreeMap::new,
                Collectors.collectingAndThen(Collectors.maxBy((a, b) -> Double.compare(a.exact(), b.exact())),
                        e -> e.orElseThrow().exact())));
        maxPerRound.forEach((round, max) -> log.info("llama round {}: max relative error of the export {} "
                + "(min FedIT deviation {}, min transposed-fold deviation {})", round, max,
                errors.stream().filter(e -> e.round() == round).mapToDouble(ModuleError::fedit).min().orElseThrow(),
                errors.stream().filter(e -> e.round() == round).mapToDouble(ModuleError::transposedFold)
                        .filter(d -> !Double.isNaN(d)).min().orElseThrow()));
    }
}
