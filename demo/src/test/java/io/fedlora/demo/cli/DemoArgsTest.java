package io.fedlora.demo.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.fedlora.cli.Cli;
import io.fedlora.cli.FedloraVersion;
import picocli.CommandLine;

/** The {@code ./fedlora demo} command line: defaults, both option syntaxes, help, version and refusals. */
class DemoArgsTest {

    private final List<DemoOptions> ran = new ArrayList<>();
    private String out;
    private String err;

    /** Executes the command as the launcher does, recording the options the demo would have run with. */
    private int execute(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int code = Cli.execute(new DemoArgs(options -> {
            ran.add(options);
            return 0;
        }), args, new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(e, true, StandardCharsets.UTF_8));
        out = o.toString(StandardCharsets.UTF_8);
        err = e.toString(StandardCharsets.UTF_8);
        return code;
    }

    @Test
    void noArgumentsGiveTheDefaults() {
        DemoOptions o = DemoArgs.parse();
        assertThat(o).isEqualTo(DemoOptions.defaults());
        assertThat(o.clients()).isEqualTo(3);
        assertThat(o.rounds()).isEqualTo(5);
        assertThat(o.strategy()).isEqualTo("fedex");
        assertThat(o.seed()).isEqualTo(42);
        assertThat(o.localSteps()).isEqualTo(150);
        assertThat(o.learningRate()).isEqualTo(0.005);
        assertThat(o.family()).isEqualTo("gpt2");
        assertThat(o.strategiesToRun()).containsExactly("fedex");
        String usage = Cli.usage(DemoArgs.commandLine());
        assertThat(usage).contains("federated rounds (default 5)").contains("per round (default 150)")
                .contains("learning rate (default 0.005)").contains("(default fedex)").contains("(default gpt2)")
                .contains("datasets (default 3)").contains("training (default 42)");
    }

    @Test
    void parsesEveryOptionInBothSyntaxes() {
        DemoOptions o = DemoArgs.parse("--clients", "5", "--rounds=2", "--strategy", "FFA", "--seed", "7",
                "--json", "--work-dir", "/tmp/x", "--keep", "--local-steps=3", "--lr", "0.01", "--family=llama");
        assertThat(o.clients()).isEqualTo(5);
        assertThat(o.rounds()).isEqualTo(2);
        assertThat(o.strategy()).isEqualTo("ffa");
        assertThat(o.seed()).isEqualTo(7);
        assertThat(o.json()).isTrue();
        assertThat(o.keep()).isTrue();
        assertThat(o.compare()).isFalse();
        assertThat(o.workDir()).contains(Path.of("/tmp/x"));
        assertThat(o.localSteps()).isEqualTo(3);
        assertThat(o.learningRate()).isEqualTo(0.01);
        assertThat(o.family()).isEqualTo("llama");
    }

    @Test
    void compareRunsFedexThenFedit() {
        assertThat(DemoArgs.parse("--compare", "--strategy", "ffa").strategiesToRun()).containsExactly("fedex", "fedit");
    }

    @Test
    void helpAndVersionGoToStdoutAndRunNothing() {
        assertThat(execute("--clients", "2", "-h")).isZero();
        assertThat(out).startsWith("Usage: fedlora demo [-hV]").contains("--keep").contains("--work-dir=DIR")
                .contains("Exit codes:").contains("130");
        assertThat(err).isEmpty();
        assertThat(execute("--version")).isZero();
        assertThat(out.strip()).isEqualTo("fedlora " + FedloraVersion.version());
        assertThat(ran).isEmpty();
        assertThat(execute("--rounds", "1")).isZero();
        assertThat(ran).hasSize(1);
        assertThat(ran.get(0).rounds()).isEqualTo(1);
    }

    @Test
    void badCommandLinesAreUsageErrorsNamingTheOption() {
        record Case(List<String> args, List<String> message) { }
        for (Case c : List.of(
                new Case(List.of("--clients", "zero"), List.of("'--clients'", "zero")),
                new Case(List.of("--clients", "0"), List.of("'--clients'", "must be positive")),
                new Case(List.of("--strategy", "fedprox"), List.of("'--strategy'", "fedprox", "fedex")),
                new Case(List.of("--family", "bert"), List.of("'--family'", "bert", "llama")),
                new Case(List.of("--rounds"), List.of("Missing required parameter", "--rounds")),
                new Case(List.of("--frobnicate"), List.of("Unknown option: '--frobnicate'")),
                new Case(List.of("--json=yes"), List.of("--json", "yes")),
                new Case(List.of("--lr", "-1"), List.of("--lr", "positive")),
                new Case(List.of("--lr", "fast"), List.of("'--lr'", "fast")),
                new Case(List.of("--work-dir", " "), List.of("'--work-dir'", "blank")),
                new Case(List.of("extra"), List.of("Unmatched argument", "'extra'")))) {
            assertThat(execute(c.args().toArray(String[]::new))).as("%s", c.args()).isEqualTo(2);
            assertThat(err).as("%s", c.args()).startsWith("error: ").contains(c.message()).contains("Usage: fedlora demo");
            assertThat(out).as("%s", c.args()).isEmpty();
            assertThatThrownBy(() -> DemoArgs.parse(c.args().toArray(String[]::new)))
                    .isInstanceOf(CommandLine.ParameterException.class);
        }
        assertThat(ran).isEmpty();
    }
}
