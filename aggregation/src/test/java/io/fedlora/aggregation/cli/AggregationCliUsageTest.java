package io.fedlora.aggregation.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.cli.FedloraVersion;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The command-line contract of {@code aggregate} and {@code bench aggregate}: help, version, usage errors. */
class AggregationCliUsageTest {

    private String out;
    private String err;

    private int run(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int code = new AggregationCli(new PrintStream(o, true, StandardCharsets.UTF_8),
                new PrintStream(e, true, StandardCharsets.UTF_8)).run(args);
        out = o.toString(StandardCharsets.UTF_8);
        err = e.toString(StandardCharsets.UTF_8);
        return code;
    }

    @Test
    void helpOfEachCommandExitsZeroWithItsUsage() {
        assertThat(run("aggregate", "--help")).isZero();
        assertThat(out).startsWith("Usage: fedlora aggregate ").contains("--base=FILE").contains("--update=DIR[:N]")
                .contains("Exit codes:");
        assertThat(err).isEmpty();
        assertThat(run("bench", "aggregate", "--help")).isZero();
        assertThat(out).startsWith("Usage: fedlora bench aggregate ").contains("--layout=L").contains("--json");
        assertThat(run("bench", "aggregate", "-h")).isZero();
    }

    @Test
    void versionIsTheProjectVersion() {
        assertThat(run("aggregate", "--version")).isZero();
        assertThat(out.strip()).isEqualTo("fedlora " + FedloraVersion.version());
        assertThat(run("bench", "aggregate", "--version")).isZero();
        assertThat(out.strip()).isEqualTo("fedlora " + FedloraVersion.version());
    }

    @Test
    void unknownOptionIsRefusedWithTheUsageOnStderr() {
        assertThat(run("aggregate", "--bsae", "x.safetensors", "--base", "b", "--out", "o", "--update", "u")).isEqualTo(2);
        assertThat(out).isEmpty();
        assertThat(err).contains("Unknown option").contains("'--bsae'").contains("Usage: fedlora aggregate");
        assertThat(run("bench", "aggregate", "--dd", "3")).isEqualTo(2);
        assertThat(err).contains("'--dd'").contains("Usage: fedlora bench aggregate");
        assertThat(run("bench")).isEqualTo(2);
        assertThat(err).contains("bench aggregate");
        assertThat(run()).isEqualTo(2);
    }

    @Test
    void badValuesNameTheOption() {
        assertThat(run("bench", "aggregate", "--d", "0")).isEqualTo(2);
        assertThat(err).contains("'--d'").contains("must be positive").contains("Usage: fedlora bench aggregate");
        assertThat(run("bench", "aggregate", "--clients", "ten")).isEqualTo(2);
        assertThat(err).contains("'--clients'").contains("ten");
        assertThat(run("bench", "aggregate", "--layout", "diagonal")).isEqualTo(2);
        assertThat(err).contains("'--layout'").contains("diagonal");
        assertThat(run("aggregate", "--base", "b", "--out", "o", "--update", "u:0")).isEqualTo(2);
        assertThat(err).contains("'--update'").contains("example count must be positive");
        assertThat(run("aggregate", "--base", "b", "--out", "o", "--update", "u", "--strategy", "median")).isEqualTo(2);
        assertThat(err).contains("'--strategy'").contains("median").contains("Usage: fedlora aggregate");
        assertThat(run("aggregate", "--base", "b", "--out", "o")).isEqualTo(2);
        assertThat(err).contains("Missing required option").contains("--update");
    }
}
