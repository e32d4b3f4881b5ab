package io.fedlora.demo.status;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The status command's command line and error paths (its output against a real coordinator: integration-tests). */
class StatusCommandTest {

    @TempDir Path dir;
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(Map<String, String> env, String... args) {
        return StatusCommand.run(args, new PrintWriter(out), new PrintWriter(err), env);
    }

    @Test
    void helpListsTheOptionsAndExitCodes() {
        assertThat(run(Map.of(), "--help")).isZero();
        assertThat(out.toString()).startsWith("Usage: fedlora status [-hV]")
                .contains("--coordinator", "--federation", "--json", "--api-key-file", "Exit codes");
    }

    @Test
    void versionIsTheProjectVersion() {
        assertThat(run(Map.of(), "--version")).isZero();
        assertThat(out.toString().strip()).isEqualTo("fedlora " + io.fedlora.cli.FedloraVersion.version());
    }

    @Test
    void withoutAKeyItSaysWhereOneComesFrom() {
        assertThat(run(Map.of())).isEqualTo(2);
        assertThat(err.toString()).startsWith("error: no admin API key").contains("FEDLORA_ADMIN_API_KEY", "--api-key-file")
                .contains("Usage: fedlora status");
        assertThat(out.toString()).isEmpty();
    }

    @Test
    void unknownOptionsAreRefusedWithASuggestion() {
        assertThat(run(Map.of("FEDLORA_ADMIN_API_KEY", "k"), "--federations")).isEqualTo(2);
        assertThat(err.toString()).contains("Unknown option: '--federations'").contains("--federation");
        assertThat(out.toString()).isEmpty();
    }

    @Test
    void aCoordinatorThatIsNotThereIsAnErrorOnStderr() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path key = Files.writeString(dir.resolve("key"), "k\n");
        assertThat(run(Map.of(), "--coordinator", "http://127.0.0.1:" + port, "--api-key-file", key.toString())).isEqualTo(1);
        assertThat(err.toString().strip()).startsWith("error: cannot reach the coordinator at http://127.0.0.1:" + port)
                .doesNotContain("\tat ").doesNotContain("FEDLORA_DEBUG");
        assertThat(out.toString()).isEmpty();
    }
}
