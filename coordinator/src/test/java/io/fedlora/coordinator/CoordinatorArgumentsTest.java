package io.fedlora.coordinator;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.cli.Cli;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The coordinator's command line, parsed in-process: nothing here starts Spring. */
class CoordinatorArgumentsTest {

    private final List<String[]> started = new ArrayList<>();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) {
        return Cli.execute(new CoordinatorArguments(springArgs -> {
            started.add(springArgs);
            return 0;
        }), args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @Test
    void helpPrintsTheUsageAndStartsNothing() {
        assertThat(run("--help")).isZero();
        assertThat(started).isEmpty();
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("Usage: fedlora coordinator", "--data-dir=DIR",
                "--spring.KEY=VALUE", "Exit codes:");
    }

    @Test
    void versionStartsNothing() {
        assertThat(run("--version")).isZero();
        assertThat(started).isEmpty();
        assertThat(out.toString(StandardCharsets.UTF_8)).isNotBlank();
    }

    @Test
    void unknownOptionIsRefusedWithTheUsage() {
        assertThat(run("--datadir", "X")).isEqualTo(2);
        assertThat(started).isEmpty();
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("Unknown option: '--datadir'", "Usage: fedlora coordinator");
    }

    @Test
    void propertyWithoutValueAndStrayArgumentsAreRefused() {
        assertThat(run("--server.port", "8080")).isEqualTo(2);
        assertThat(err.toString(StandardCharsets.UTF_8)).contains("--key=value");
        assertThat(run("--unknown.prefix=1")).isEqualTo(2);
        assertThat(run("start")).isEqualTo(2);
        assertThat(started).isEmpty();
    }

    @Test
    void dataDirAndEveryPropertyTheLaunchersPassReachSpring() {
        // the flags demo/ (FederationProcesses) and integration-tests (FederationEnvironment) start coordinators with
        String[] args = {"--data-dir", "/tmp/fl/coord", "--fedlora.admin.api-key=k", "--server.port=0",
                "--server.address=127.0.0.1", "--spring.grpc.server.port=0", "--spring.grpc.server.host=127.0.0.1",
                "--spring.datasource.url=jdbc:postgresql://127.0.0.1:5432/x", "--spring.datasource.username=u",
                "--spring.datasource.password=p", "--management.endpoints.web.exposure.include=health",
                "--logging.level.io.fedlora=DEBUG", "--springdoc.api-docs.enabled=false"};
        assertThat(run(args)).isZero();
        assertThat(started).hasSize(1);
        assertThat(started.get(0)).containsExactly("--fedlora.data-dir=/tmp/fl/coord", "--fedlora.admin.api-key=k",
                "--server.port=0", "--server.address=127.0.0.1", "--spring.grpc.server.port=0",
                "--spring.grpc.server.host=127.0.0.1", "--spring.datasource.url=jdbc:postgresql://127.0.0.1:5432/x",
                "--spring.datasource.username=u", "--spring.datasource.password=p",
                "--management.endpoints.web.exposure.include=health", "--logging.level.io.fedlora=DEBUG",
                "--springdoc.api-docs.enabled=false");
        assertThat(CoordinatorArguments.toSpringArgs(new String[] {"--data-dir=/d"})).containsExactly("--fedlora.data-dir=/d");
    }
}
