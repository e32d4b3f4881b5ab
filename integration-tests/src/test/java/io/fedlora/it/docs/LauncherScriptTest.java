package io.fedlora.it.docs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import io.fedlora.demo.process.FederationProcesses;
import io.fedlora.demo.process.FedloraHome;

/**
 * The {@code ./fedlora} launcher's own answers, which come before any module is built or started: {@code help} and
 * {@code --version} exit 0 on stdout, an unknown command or a {@code bench} without its kind exits 2 with the usage
 * on stderr and nothing on stdout (so scripts can tell a typo from a run).
 */
class LauncherScriptTest {

    private final Path home = FedloraHome.locate();

    private record Result(int exit, String out, String err) {}

    private Result run(String... args) throws IOException, InterruptedException {
        return runWith(null, args);
    }

    private Result runWith(String javaOpts, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("/bin/bash", home.resolve("fedlora").toString()));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).directory(home.toFile());
        builder.environment().remove("JAVA_OPTS");
        if (javaOpts != null) {
            builder.environment().put("JAVA_OPTS", javaOpts);
        }
        Process p = builder.start();
        p.getOutputStream().close();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("%s returns at once", command).isTrue();
        return new Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
                new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    @Test
    void helpAndVersionExitZeroOnStdout() throws Exception {
        for (String help : List.of("help", "--help", "-h")) {
            Result r = run(help);
            assertThat(r.exit()).as(help).isZero();
            assertThat(r.out()).as(help).startsWith("Usage: ./fedlora <command>").contains("bench federation");
            assertThat(r.err()).as(help).isEmpty();
        }
        for (String version : List.of("--version", "-V", "version")) {
            Result r = run(version);
            assertThat(r.exit()).as(version).isZero();
            assertThat(r.out().strip()).as(version).matches("fedlora \\d+\\.\\d+\\.\\d+(-SNAPSHOT)?");
        }
    }

    @Test
    void unknownCommandsExitTwoWithTheUsageOnStderr() throws Exception {
        Result typo = run("coordiantor");
        assertThat(typo.exit()).isEqualTo(2);
        assertThat(typo.out()).isEmpty();
        assertThat(typo.err()).contains("unknown command 'coordiantor'").contains("Usage: ./fedlora <command>");

        Result bench = run("bench", "trian");
        assertThat(bench.exit()).isEqualTo(2);
        assertThat(bench.out()).isEmpty();
        assertThat(bench.err()).contains("bench needs 'aggregate', 'train' or 'federation', not 'trian'");
    }

    @Test
    void trainerCommandsRunTheSerialCollectorUnlessJavaOptsPicksOne() throws Exception {
        // -XX:+PrintCommandLineFlags prints the JVM's chosen flags on stdout before main runs
        for (List<String> command : List.of(List.of("init-model", "--version"), List.of("bench", "train", "--version"),
                List.of("agent", "--version"))) {
            Result plain = runWith("-XX:+PrintCommandLineFlags", command.toArray(String[]::new));
            assertThat(plain.exit()).as("%s", command).isZero();
            assertThat(plain.out()).as("%s", command).contains("-XX:+UseSerialGC").contains("-XX:MaxHeapSize=");
            Result chosen = runWith("-XX:+UseParallelGC -XX:+PrintCommandLineFlags", command.toArray(String[]::new));
            assertThat(chosen.exit()).as("%s", command).isZero();
            assertThat(chosen.out()).as("%s", command).contains("-XX:+UseParallelGC").doesNotContain("UseSerialGC");
        }
    }

    @Test
    void theCoordinatorRunsWithTheMemorySettingsTheBenchmarksMeasured() throws Exception {
        Result plain = runWith("-XX:+PrintCommandLineFlags", "coordinator", "--version");
        assertThat(plain.exit()).isZero();
        assertThat(plain.out()).contains("-XX:+UseSerialGC").contains("-XX:MaxNewSize=67108864")
                .contains("-XX:InitialHeapSize=134217728").contains("-XX:MinHeapFreeRatio=10")
                .contains("-XX:MaxHeapFreeRatio=25");
        Result chosen = runWith("-XX:+PrintCommandLineFlags -Xmn100m -Xms256m -XX:+UseParallelGC -XX:MaxHeapFreeRatio=60",
                "coordinator", "--version");
        assertThat(chosen.out()).contains("-XX:MaxNewSize=104857600").contains("-XX:+UseParallelGC")
                .contains("-XX:InitialHeapSize=268435456").contains("-XX:MaxHeapFreeRatio=60")
                .doesNotContain("UseSerialGC").doesNotContain("MinHeapFreeRatio=10");
        // bench federation and the demo start the coordinator with FederationProcesses' copy of these settings
        String launcher = java.nio.file.Files.readString(home.resolve("fedlora"));
        assertThat(launcher).contains("COORDINATOR_MALLOC=\"" + FederationProcesses.COORDINATOR_MALLOC_TUNABLES + "\"");
        assertThat(FederationProcesses.COORDINATOR_MEMORY_OPTIONS).containsExactly("-XX:+UseSerialGC", "-Xms128m", "-Xmn64m",
                "-XX:MinHeapFreeRatio=10", "-XX:MaxHeapFreeRatio=25");
        assertThat(launcher).contains("COORDINATOR_GC=\"-XX:+UseSerialGC\"").contains("COORDINATOR_YOUNG=\"-Xmn64m\"")
                .contains("COORDINATOR_INITIAL_HEAP=\"-Xms128m\"")
                .contains("COORDINATOR_HEAP_FREE=\"-XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=25\"");
    }
}
