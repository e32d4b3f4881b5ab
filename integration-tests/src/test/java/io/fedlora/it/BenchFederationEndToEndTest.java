package io.fedlora.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import com.fasterxml.jackson.databind.JsonNode;

import io.fedlora.demo.bench.BenchFederationCli;
import io.fedlora.it.support.EnvironmentExtension;
import io.fedlora.it.support.FederationEnvironment;
import picocli.CommandLine;

/**
 * {@code ./fedlora bench federation} end to end on init-model's Llama: a coordinator process, 3 simulated gRPC clients,
 * 2 rounds, and the benchmark's own independent exactness check (layouts from the model family, LINEAR here) on the
 * exports. It broke unnoticed once (exports gained {@code merged/}, the check's unzip failed every run): this runs it.
 */
@Tag("e2e")
@ExtendWith(EnvironmentExtension.class)
class BenchFederationEndToEndTest {

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void theBenchmarkChecksEveryRoundOfALlamaFederationExact(FederationEnvironment env) throws Exception {
        Path model = env.modelDir(FederationEnvironment.LLAMA);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = BenchFederationCli.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        java.util.Set<Path> before = benchWorkDirs();
        // no --work: the bench makes its own temp data dir and removes it after a successful run (a GPT-2-small
        // run's is ~3.5 GB; runs that kept theirs once filled this machine's disk)
        int code = cl.execute("--clients", "3", "--rounds", "2", "--model", model.toString(), "--targets",
                "q_proj,v_proj,down_proj", "--coordinator-heap", "1g", "--json");
        assertThat(code).as(err.toString()).isZero();
        java.util.Set<Path> left = benchWorkDirs();
        left.removeAll(before);
        assertThat(left).as("data dirs the run left behind").isEmpty();
        assertThat(err.toString()).doesNotContain("kept in");
        JsonNode result = env.mapper().readTree(out.toString());
        assertThat(result.path("failed_clients").asInt()).isZero();
        JsonNode rounds = result.path("per_round");
        assertThat(rounds.size()).as(out.toString()).isEqualTo(2);
        for (JsonNode r : rounds) {
            assertThat(r.path("status").asText()).isEqualTo("PUBLISHED");
            assertThat(r.path("independent_exactness_rel_error").isNumber()).as("round %s checked", r.path("round")).isTrue();
            assertThat(r.path("independent_exactness_rel_error").asDouble()).isLessThan(1e-6);
        }
    }

    private static java.util.Set<Path> benchWorkDirs() throws java.io.IOException {
        try (java.util.stream.Stream<Path> s = java.nio.file.Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return s.filter(p -> p.getFileName().toString().startsWith("fedlora-bench-federation"))
                    .collect(java.util.stream.Collectors.toCollection(java.util.HashSet::new));
        }
    }
}
