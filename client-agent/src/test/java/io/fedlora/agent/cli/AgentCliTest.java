package io.fedlora.agent.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fedlora.agent.daemon.NativeThreads;
import io.fedlora.agent.model.LlamaModel;
import io.fedlora.aggregation.family.LlamaFamily;
import io.fedlora.cli.FedloraVersion;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class AgentCliTest {

    @BeforeAll
    static void oneNativeThread() {
        // tiny ops gain nothing from OpenMP, and its barriers stall on a shared 2-core box
        NativeThreads.apply(1);
    }


    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private final AgentCli cli = new AgentCli(new PrintStream(out, true), new PrintStream(err, true));

    @Test
    void usageErrorsExitWithTwoAndTheUsageOnStderr() {
        assertThat(cli.run(new String[]{})).isEqualTo(2);
        assertThat(cli.run(new String[]{"init-model"})).isEqualTo(2);
        assertThat(err.toString()).contains("Missing required option: '--out=DIR'").contains("Usage: fedlora init-model");
        err.reset();
        assertThat(cli.run(new String[]{"init-model", "--out", "x", "--seed", "abc"})).isEqualTo(2);
        assertThat(err.toString()).contains("'--seed'").contains("abc");
        err.reset();
        assertThat(cli.run(new String[]{"init-model", "--out", "x", "--clients", "0"})).isEqualTo(2);
        assertThat(err.toString()).contains("'--clients'").contains("at least 1");
        err.reset();
        assertThat(cli.run(new String[]{"bench", "train", "--bogus"})).isEqualTo(2);
        assertThat(err.toString()).contains("Unknown option: '--bogus'").contains("Usage: fedlora bench train");
        err.reset();
        assertThat(cli.run(new String[]{"bench", "train", "--steps", "many"})).isEqualTo(2);
        assertThat(err.toString()).contains("'--steps'").contains("many");
        err.reset();
        assertThat(cli.run(new String[]{"bench", "train", "--warmup-seconds", "-1"})).isEqualTo(2);
        assertThat(err.toString()).contains("--warmup-seconds must be 0 or more");
        assertThat(out.toString()).isEmpty();
    }

    @Test
    void helpAndVersionOfEachCommand() {
        assertThat(cli.run(new String[]{"init-model", "--help"})).isZero();
        assertThat(out.toString()).startsWith("Usage: fedlora init-model ").contains("--clients=N").contains("Exit codes:");
        out.reset();
        assertThat(cli.run(new String[]{"bench", "train", "--help"})).isZero();
        assertThat(out.toString()).startsWith("Usage: fedlora bench train ").contains("--json");
        out.reset();
        assertThat(cli.run(new String[]{"init-model", "--version"})).isZero();
        assertThat(out.toString().strip()).isEqualTo("fedlora " + FedloraVersion.version());
        out.reset();
        assertThat(cli.run(new String[]{"bench", "train", "-V"})).isZero();
        assertThat(out.toString().strip()).isEqualTo("fedlora " + FedloraVersion.version());
        assertThat(err.toString()).isEmpty();
    }

    @Test
    void benchJsonIsTheWholeOfStdout() throws Exception {
        assertThat(cli.run(new String[]{"bench", "train", "--json", "--steps", "2", "--batch", "4", "--warmup", "1",
                "--warmup-seconds", "0.5"})).isEqualTo(0);
        // exactly one JSON document on stdout, as `| jq .` needs; the readable summary went to stderr
        JsonNode json = new ObjectMapper().readTree(out.toString());
        assertThat(out.toString().strip()).doesNotContain("\n");
        assertThat(err.toString()).contains("LoRA train (fwd+bwd+clip+AdamW)");
        assertThat(json.path("steps").asInt()).isEqualTo(2);
        assertThat(json.path("train").path("tokens_per_second").asDouble()).isPositive();
        assertThat(json.path("forward").path("tokens_per_second").asDouble()).isPositive();
        assertThat(json.path("train").path("peak_heap_bytes").asLong()).isPositive();
        assertThat(json.path("backend").asText()).isNotBlank();
        // warm-up runs until both minima are met: 1 step and half a second, in each phase
        assertThat(json.path("warmup_run").path("train_seconds").asDouble()).isGreaterThanOrEqualTo(0.5);
        assertThat(json.path("warmup_run").path("forward_seconds").asDouble()).isGreaterThanOrEqualTo(0.5);
        assertThat(json.path("warmup_run").path("train_steps").asInt()).isGreaterThan(1);
        assertThat(err.toString()).containsPattern("warm-up: \\d+ train steps");
        // a ratio of two timings: its value belongs to the benchmark's report, not to a unit test's assertion
        assertThat(json.path("train_step_over_forward").asDouble()).isPositive().isFinite();
    }

    @Test
    void benchTrainsALlamaModelDirectoryWithTheFamilysDefaultTargets(@TempDir Path dir) throws Exception {
        LlamaFamily.Spec spec = new LlamaFamily.Spec("llama", 32, 48, 2, 4, 2, 8, 50, 16, 1e-6, 10000.0, false, false, false);
        LlamaModel.initialise(spec, 1).save(dir);
        assertThat(cli.run(new String[]{"bench", "train", "--model", dir.toString(), "--steps", "2", "--warmup", "0",
                "--warmup-seconds", "0", "--batch", "2", "--seq", "16", "--threads", "1"})).isEqualTo(0);
        JsonNode json = new ObjectMapper().readTree(out.toString());
        assertThat(json.path("model").path("family").asText()).isEqualTo("llama");
        assertThat(json.path("model").path("n_kv_head").asInt()).isEqualTo(2);
        assertThat(json.path("lora").path("target_modules").toString()).contains("q_proj").contains("v_proj");
        assertThat(json.path("train").path("tokens_per_second").asDouble()).isPositive();
        assertThat(json.path("flops").path("sgemm_shape").asText()).isEqualTo("32x32 · 32x48");
    }
}
