package io.fedlora.agent.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fedlora.agent.daemon.NativeThreads;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;

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
    void usageErrorsExitWithTwo() {
        assertThat(cli.run(new String[]{})).isEqualTo(2);
        assertThat(cli.run(new String[]{"init-model"})).isEqualTo(2);
        assertThat(err.toString()).contains("--out is required");
        assertThat(cli.run(new String[]{"init-model", "--out", "x", "--seed", "abc"})).isEqualTo(2);
        assertThat(cli.run(new String[]{"bench", "train", "--bogus"})).isEqualTo(2);
        assertThat(err.toString()).contains("unknown argument '--bogus'").contains("usage:");
    }

    @Test
    void benchPrintsOneJsonObjectOnTheLastLine() throws Exception {
        assertThat(cli.run(new String[]{"bench", "train", "--json", "--steps", "2", "--batch", "4"})).isEqualTo(0);
        String[] lines = out.toString().strip().split("\n");
        JsonNode json = new ObjectMapper().readTree(lines[lines.length - 1]);
        assertThat(json.path("steps").asInt()).isEqualTo(2);
        assertThat(json.path("train").path("tokens_per_second").asDouble()).isPositive();
        assertThat(json.path("forward").path("tokens_per_second").asDouble()).isPositive();
        assertThat(json.path("train").path("peak_heap_bytes").asLong()).isPositive();
        assertThat(json.path("backend").asText()).isNotBlank();
        // a ratio of two timings: its value belongs to the benchmark's report, not to a unit test's assertion
        assertThat(json.path("train_step_over_forward").asDouble()).isPositive().isFinite();
    }
}
