package io.fedlora.it.docs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.ZipFile;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.fedlora.demo.process.FedloraHome;
import io.fedlora.it.support.EnvironmentExtension;
import io.fedlora.it.support.FederationEnvironment;
import io.fedlora.it.support.LauncherRuns;

/**
 * The README's "Running a federation by hand" block, run by {@code bash -e} as a user pastes it, from the repository
 * root, through the real launcher: only its two ports (8080, 9090 would clash with whatever else runs) and its
 * directory ({@code /tmp/fl}) are moved. It must complete its three rounds exactly, download the export into its own
 * directory, write nothing into the repository, and leave no process running (coordinator, agents, the embedded
 * PostgreSQL). A README edit that breaks the block, or drops the lines that stop what it started, fails here.
 */
@Tag("e2e")
@ExtendWith(EnvironmentExtension.class)
class ReadmeByHandEndToEndTest {

    private static final String HEADING = "### Running a federation by hand";

    @Test
    @Timeout(value = 9, unit = TimeUnit.MINUTES)
    void theByHandBlockCompletesItsFederationAndStopsEverythingItStarted(FederationEnvironment env) throws Exception {
        Path home = FedloraHome.locate();
        // the launcher would build (./mvnw install) what is missing: this test runs on the packaged modules only
        LauncherRuns.requirePackaged(home, "coordinator", "client-agent");
        String block = byHandBlock(Files.readString(home.resolve("README.md")));
        Path dir = env.newDir("readme-by-hand").toRealPath();
        Path fl = dir.resolve("fl");
        int rest = freePort();
        int grpc = freePort();
        for (String literal : List.of("/tmp/fl", "127.0.0.1:8080", "127.0.0.1:9090", "./fedlora coordinator")) {
            assertThat(block).as("the block still uses %s (this test moves it)", literal).contains(literal);
        }
        String script = block.replace("/tmp/fl", fl.toString())
                .replace("127.0.0.1:8080", "127.0.0.1:" + rest)
                .replace("127.0.0.1:9090", "127.0.0.1:" + grpc);
        Path scriptFile = dir.resolve("by-hand.sh");
        Files.writeString(scriptFile, script);

        Set<String> treeBefore = sourceTree(home);
        ProcessBuilder builder = new ProcessBuilder("setsid", "/bin/bash", "-e", scriptFile.toString())
                .directory(home.toFile())
                .redirectOutput(dir.resolve("stdout.txt").toFile())
                .redirectError(dir.resolve("stderr.txt").toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Map<String, String> environment = builder.environment();
        environment.remove("FEDLORA_REBUILD");
        environment.put("JAVA_HOME", System.getProperty("java.home"));
        // the coordinator's listeners: the block starts it on its defaults (8080, 9090); Spring reads these first
        environment.put("SERVER_PORT", Integer.toString(rest));
        environment.put("SPRING_GRPC_SERVER_PORT", Integer.toString(grpc));
        Process process = builder.start();
        try {
            boolean finished = process.waitFor(8, TimeUnit.MINUTES);
            String stdout = Files.readString(dir.resolve("stdout.txt"));
            String stderr = Files.readString(dir.resolve("stderr.txt"));
            assertThat(finished).as("the block finishes; stdout:%n%s%nstderr:%n%s", stdout, stderr).isTrue();
            assertThat(process.exitValue()).as("bash -e exit code; stdout:%n%s%nstderr:%n%s", stdout, stderr).isZero();

            List<JsonNode> rounds = roundLines(stdout);
            assertThat(rounds).as("the rounds it prints:%n%s", stdout).hasSize(4);
            for (int r = 0; r <= 3; r++) {
                JsonNode round = rounds.get(r);
                assertThat(round.path("round").asInt()).isEqualTo(r);
                assertThat(round.path("status").asText()).as("round %d", r).isEqualTo("PUBLISHED");
                if (r > 0) {
                    assertThat(round.path("metrics").path("num_clients").asInt()).as("round %d clients", r).isEqualTo(2);
                    assertThat(round.path("metrics").path("exactness_rel_error").asDouble()).as("round %d", r)
                            .isLessThan(1e-6);
                }
            }
            Path zip = fl.resolve("model.zip");
            assertThat(zip).as("the export lands in the block's own directory").isRegularFile();
            try (ZipFile export = new ZipFile(zip.toFile())) {
                assertThat(export.stream().map(e -> e.getName()).toList()).as("export entries")
                        .anyMatch(n -> n.endsWith("model.safetensors"))
                        .anyMatch(n -> n.endsWith("adapter_model.safetensors"));
            }

            Set<String> written = new TreeSet<>(sourceTree(home));
            written.removeAll(treeBefore);
            assertThat(written).as("files the block wrote into the repository").isEmpty();
            assertThat(processesMentioning(fl.toString())).as("processes left running on %s", fl).isEmpty();
        } finally {
            stopEverything(process, fl.toString());
        }
    }

    /** The first {@code bash} block under the heading. */
    static String byHandBlock(String readme) {
        int heading = readme.indexOf(HEADING);
        assertThat(heading).as("README has '%s'", HEADING).isNotNegative();
        int start = readme.indexOf("```bash\n", heading);
        int end = readme.indexOf("\n```", start + 8);
        if (start < 0 || end < 0) {
            fail("no ```bash block under " + HEADING);
        }
        return readme.substring(start + "```bash\n".length(), end + 1);
    }

    /** The JSON lines of the block's {@code /rounds | jq -c} output. */
    private static List<JsonNode> roundLines(String stdout) throws IOException {
        ObjectMapper mapper = new ObjectMapper();
        List<JsonNode> rounds = new ArrayList<>();
        for (String line : stdout.split("\n")) {
            if (line.startsWith("{\"round\":")) {
                rounds.add(mapper.readTree(line));
            }
        }
        return rounds;
    }

    /** Every file of the repository outside build output and Git's own directory. */
    private static Set<String> sourceTree(Path home) throws IOException {
        try (Stream<Path> files = Files.walk(home)) {
            return files.filter(p -> {
                Path rel = home.relativize(p);
                for (Path part : rel) {
                    String name = part.toString();
                    if (name.equals(".git") || name.equals("target")) {
                        return false;
                    }
                }
                return true;
            }).map(p -> home.relativize(p).toString()).collect(java.util.stream.Collectors.toCollection(TreeSet::new));
        }
    }

    /** Live processes whose command line names {@code path} (the block's java processes and its PostgreSQL). */
    private static List<String> processesMentioning(String path) {
        List<String> found = new ArrayList<>();
        ProcessHandle.allProcesses().forEach(h -> {
            String cmd = LauncherRuns.commandLine(h.pid());
            if (cmd.contains(path) && h.isAlive()) {
                found.add(h.pid() + ": " + cmd);
            }
        });
        return found;
    }

    /** What a failed assertion may have left: the script's session, then anything still naming its directory. */
    private static void stopEverything(Process process, String path) throws InterruptedException {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
        ProcessHandle.allProcesses().filter(h -> LauncherRuns.commandLine(h.pid()).contains(path))
                .forEach(ProcessHandle::destroyForcibly);
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
