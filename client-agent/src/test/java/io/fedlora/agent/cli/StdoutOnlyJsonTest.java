package io.fedlora.agent.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Runs {@code bench train} as its own process, on the module's runtime classpath (no test classes or test
 * resources, so the module's own logging configuration is the one that applies): stdout must be exactly one
 * JSON document, while ND4J's and javacpp's start-up logs land on stderr, so {@code bench train | jq .} works.
 */
class StdoutOnlyJsonTest {

    @Test
    void benchTrainPrintsOnlyJsonOnStdoutAndLogsOnStderr() throws Exception {
        String classpath = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                .filter(entry -> !entry.endsWith("test-classes"))
                .collect(Collectors.joining(File.pathSeparator));
        ProcessBuilder builder = new ProcessBuilder(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g", "-cp", classpath,
                AgentCli.class.getName(), "bench", "train", "--steps", "2", "--warmup", "0", "--warmup-seconds", "0",
                "--threads", "1"));
        builder.environment().put("OMP_NUM_THREADS", "1");
        builder.environment().put("OPENBLAS_NUM_THREADS", "1");
        Process process = builder.start();
        CompletableFuture<String> stderr = CompletableFuture.supplyAsync(() -> read(process, true));
        String stdout = read(process, false);
        assertThat(process.waitFor(5, TimeUnit.MINUTES)).isTrue();
        String err = stderr.get(1, TimeUnit.MINUTES);
        assertThat(process.exitValue()).as("exit status; stderr:\n" + err).isZero();

        ObjectMapper mapper = new ObjectMapper();
        var parser = mapper.getFactory().createParser(stdout);
        JsonNode document = mapper.readTree(parser);
        assertThat(document).as("stdout:\n" + stdout).isNotNull();
        assertThat(document.isObject()).isTrue();
        assertThat(parser.nextToken()).as("nothing after the JSON document on stdout:\n" + stdout).isNull();
        assertThat(stdout.strip()).startsWith("{").endsWith("}");
        assertThat(err).as("the logs are on stderr").containsPattern("(?i)nd4j|backend|INFO");
    }

    private static String read(Process process, boolean errorStream) {
        try {
            return new String((errorStream ? process.getErrorStream() : process.getInputStream()).readAllBytes(),
                    StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
