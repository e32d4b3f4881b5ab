package io.fedlora.demo.process;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ProcessLauncherTest {

    @TempDir
    Path dir;

    private JavaCommand child(String name, String... args) {
        return new JavaCommand(name, System.getProperty("java.class.path"), List.of("-Xmx64m"),
                TestChild.class.getName(), List.of(args), Map.of("FEDLORA_TEST_VAR", "hello"));
    }

    @Test
    void runCapturesOutputAndEnvironmentInTheLog() throws Exception {
        try (ProcessLauncher launcher = new ProcessLauncher(dir.resolve("logs"))) {
            ChildProcess done = launcher.run(child("ok", "0", "--token", "secret-token"), Duration.ofSeconds(60));
            String log = Files.readString(done.logFile());
            assertThat(done.logFile()).isEqualTo(dir.resolve("logs/ok.log"));
            assertThat(log).contains("args=0,--token,secret-token", "env=hello", "to stderr");
            assertThat(log.lines().findFirst().orElseThrow()).contains("starting:", "--token <redacted>").doesNotContain("secret-token");
            assertThat(done.logTail(2)).isEqualTo("env=hello" + System.lineSeparator() + "to stderr");
        }
    }

    @Test
    void failingChildThrowsWithItsLogTail() {
        try (ProcessLauncher launcher = new ProcessLauncher(dir)) {
            assertThatThrownBy(() -> launcher.run(child("bad", "3"), Duration.ofSeconds(60)))
                    .isInstanceOf(ChildProcessException.class)
                    .hasMessageContaining("bad exited with code 3")
                    .hasMessageContaining("env=hello")
                    .hasMessageContaining(dir.resolve("bad.log").toString());
        }
    }

    @Test
    void closeStopsEveryStartedProcessAndKillIsImmediate() throws Exception {
        ProcessLauncher launcher = new ProcessLauncher(dir);
        ChildProcess a = launcher.start(child("a", "sleep"));
        ChildProcess b = launcher.start(child("b", "sleep"));
        assertThat(a.isAlive()).isTrue();
        b.kill();
        assertThat(b.isAlive()).isFalse();
        assertThat(b.exitCode()).contains(137);
        launcher.close();
        assertThat(a.isAlive()).isFalse();
        assertThat(launcher.started()).containsExactly(a, b);
        assertThatThrownBy(() -> launcher.start(child("c", "sleep"))).as("nothing starts once closed")
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("not starting c");
        assertThat(launcher.started()).containsExactly(a, b);
    }

    @Test
    void restartedProcessAppendsToItsLog() throws Exception {
        try (ProcessLauncher launcher = new ProcessLauncher(dir)) {
            launcher.run(child("same", "0", "first"), Duration.ofSeconds(60));
            launcher.run(child("same", "0", "second"), Duration.ofSeconds(60));
            String log = Files.readString(dir.resolve("same.log"));
            assertThat(log).contains("args=0,first", "args=0,second");
        }
    }

    @Test
    void apiKeyIsRedactedFromTheLoggedCommandLine() {
        List<String> shown = ProcessLauncher.redactClasspath(List.of("java", "-cp", "a:b:c", "Main",
                "--fedlora.admin.api-key=k3y", "--token=t0k"));
        assertThat(shown).containsExactly("java", "-cp", "<3 classpath entries>", "Main",
                "--fedlora.admin.api-key=<redacted>", "--token=<redacted>");
    }
}
