package io.fedlora.agent.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fedlora.cli.Cli;
import io.fedlora.cli.FedloraVersion;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class AgentArgumentsTest {

    private final List<String[]> started = new ArrayList<>();
    private String out;
    private String err;

    /** Runs the agent's command line with a daemon that only records its Spring arguments. */
    private int run(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int code = Cli.execute(new AgentArguments(springArgs -> {
            started.add(springArgs);
            return 0;
        }), args, new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(e, true, StandardCharsets.UTF_8));
        out = o.toString(StandardCharsets.UTF_8);
        err = e.toString(StandardCharsets.UTF_8);
        return code;
    }

    @Test
    void mapsShortOptionsInBothFormsAndPassesPropertiesThrough() {
        String[] out = AgentArguments.toSpringArgs(new String[] {
                "--coordinator", "coord:9090", "--token=abc", "--data", "/d", "--work-dir=/w", "--name", "node a",
                "--omp-threads", "1", "--spring.main.banner-mode=console", "--fedlora.agent.poll-wait=1s"});
        assertThat(out).containsExactly(
                "--fedlora.agent.coordinator=coord:9090", "--fedlora.agent.token=abc", "--fedlora.agent.name=node a",
                "--fedlora.agent.data-dir=/d", "--fedlora.agent.work-dir=/w", "--fedlora.agent.omp-threads=1",
                "--spring.main.banner-mode=console", "--fedlora.agent.poll-wait=1s");
        assertThat(AgentArguments.toSpringArgs(new String[] {"--data-dir", "/d"})).containsExactly("--fedlora.agent.data-dir=/d");
        assertThat(AgentArguments.toSpringArgs(new String[] {"--base-model", "/hf/gpt2"}))
                .containsExactly("--fedlora.agent.base-model=/hf/gpt2");
    }

    @Test
    void nothingGivenLeavesEverythingToTheEnvironment() {
        assertThat(AgentArguments.toSpringArgs(new String[0])).isEmpty();
    }

    @Test
    void optionWithoutValueIsAnError() {
        assertThatThrownBy(() -> AgentArguments.toSpringArgs(new String[] {"--coordinator"}))
                .isInstanceOf(CommandLine.ParameterException.class).hasMessageContaining("--coordinator");
    }

    @Test
    void helpAndVersionNeverStartTheDaemon() {
        assertThat(run("--help")).isZero();
        assertThat(out).startsWith("Usage: fedlora agent ").contains("--coordinator=HOST:PORT")
                .contains("FEDLORA_AGENT_TOKEN").contains("143").contains("Exit codes:");
        assertThat(run("--version")).isZero();
        assertThat(out.strip()).isEqualTo("fedlora " + FedloraVersion.version());
        assertThat(started).isEmpty();
    }

    @Test
    void unknownOptionsAndBadValuesAreRefusedBeforeStarting() {
        assertThat(run("--coordinater", "h:9090")).isEqualTo(2);
        assertThat(err).contains("Unknown option").contains("'--coordinater'").contains("Usage: fedlora agent");
        assertThat(run("--coordinator", "localhost")).isEqualTo(2);
        assertThat(err).contains("'--coordinator'").contains("HOST:PORT");
        assertThat(run("--omp-threads", "two")).isEqualTo(2);
        assertThat(err).contains("'--omp-threads'").contains("two");
        assertThat(run("--bad-lines", "ignore")).isEqualTo(2);
        assertThat(err).contains("'--bad-lines'").contains("ignore");
        assertThat(run("--heartbeat-interval", "soon")).isEqualTo(2);
        assertThat(err).contains("'--heartbeat-interval'").contains("soon");
        assertThat(run("--fedlora.agent.poll-wait", "1s")).isEqualTo(2);
        assertThat(err).contains("--key=value");
        assertThat(run("stray")).isEqualTo(2);
        assertThat(err).contains("'stray'");
        assertThat(out).isEmpty();
        assertThat(started).isEmpty();
    }

    @Test
    void aGoodCommandLineStartsTheDaemonWithItsExitStatus() {
        assertThat(run("--coordinator", "127.0.0.1:9090", "--name=n1", "--bad-lines", "FAIL")).isZero();
        assertThat(started).hasSize(1);
        assertThat(started.get(0)).containsExactly("--fedlora.agent.coordinator=127.0.0.1:9090",
                "--fedlora.agent.name=n1", "--fedlora.agent.bad-lines=fail");
    }
}
