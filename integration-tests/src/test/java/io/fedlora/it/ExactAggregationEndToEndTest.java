package io.fedlora.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.fedlora.demo.admin.FederationView;
import io.fedlora.demo.process.ChildProcess;
import io.fedlora.demo.run.FederationDriver;
import io.fedlora.it.support.EnvironmentExtension;
import io.fedlora.it.support.ExactAggregationCheck;
import io.fedlora.it.support.FederationEnvironment;
import io.fedlora.it.support.TestFederations;

/**
 * A 3-client, 3-round FedEx-LoRA federation across real processes. For every round the exported
 * global model (residual-folded base + averaged adapter) must equal the example-weighted average of
 * the clients' effective weights {@code Σ w_i (W_prev + s·B_i A_i)} ({@link ExactAggregationCheck}),
 * and FedIT's formula on the same updates must miss it by far more: the check can tell the two apart. Once on GPT-2
 * ({@code Conv1D} weights, LoRA on {@code c_attn}) and once on init-model's Llama ({@code nn.Linear} weights, grouped-query
 * attention so {@code k_proj}/{@code v_proj} are not square, LoRA on all seven projections), each judged in its own layout.
 */
@Tag("e2e")
@ExtendWith(EnvironmentExtension.class)
class ExactAggregationEndToEndTest {

    private static final int ROUNDS = 3;

    @Test
    @Timeout(value = 8, unit = java.util.concurrent.TimeUnit.MINUTES)
    void everyRoundsExportEqualsTheWeightedAverageOfTheClientsModels(FederationEnvironment env) throws Exception {
        checkFederation(env, FederationEnvironment.GPT2, List.of("c_attn"), ExactAggregationCheck.Family.GPT2_C_ATTN);
    }

    @Test
    @Timeout(value = 10, unit = java.util.concurrent.TimeUnit.MINUTES)
    void everyRoundOfALlamaFederationIsExactInTheLinearLayout(FederationEnvironment env) throws Exception {
        List<String> projections = List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");
        List<ExactAggregationCheck.ModuleError> errors = checkFederation(env, FederationEnvironment.LLAMA, projections,
                ExactAggregationCheck.Family.llama(projections));
        // 2 layers x 7 projections x 3 rounds, every one judged as nn.Linear (W [d_out, d_in], delta s·B·A)
        assertThat(errors).hasSize(2 * projections.size() * ROUNDS);
        assertThat(errors).extracting(ExactAggregationCheck.ModuleError::module)
                .anyMatch(m -> m.endsWith("self_attn.v_proj")).anyMatch(m -> m.endsWith("mlp.down_proj"));
    }

    private List<ExactAggregationCheck.ModuleError> checkFederation(FederationEnvironment env, String family,
            List<String> targets, ExactAggregationCheck.Family oracle) throws Exception {
        FederationEnvironment.Coordinator coordinator = env.sharedCoordinator();
        FederationDriver driver = env.driver(coordinator);
        FederationView federation = driver.admin().createFederation(
                TestFederations.spec("fedex", ROUNDS, 3, 3, 180, false, env.modelDir(family), 4, targets));
        String id = federation.id();
        List<ChildProcess> agents = driver.startAgents(id,
                TestFederations.agents(env, family, "exact-" + family, env.newDir("exact-" + family), 3), List.of());
        try {
            driver.awaitEnrolled(id, 3, Duration.ofMinutes(2), agents);
            driver.admin().start(id);
            FederationView end = driver.awaitFinished(id, Duration.ofMinutes(6), rounds -> { }, agents);
            assertThat(end.status()).as("federation end state").isEqualTo("COMPLETED");
        } finally {
            agents.forEach(ChildProcess::close);
        }

        List<ExactAggregationCheck.ModuleError> errors = ExactAggregationCheck.verify(driver, coordinator, id, ROUNDS, 3,
                TestFederations.SCALE, oracle, env.modelDir(family), env.newDir("exact-export-" + family));
        assertThat(errors).isNotEmpty();
        for (ExactAggregationCheck.ModuleError e : errors) {
            assertThat(e.fedit()).as("round %d %s: FedIT's B'A' on the same updates is not the average", e.round(), e.module())
                    .isGreaterThan(100 * ExactAggregationCheck.TOLERANCE);
        }
        return errors;
    }
}
