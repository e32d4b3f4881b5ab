package io.fedlora.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

class CliTest {

    @Command(name = "sample", mixinStandardHelpOptions = true, versionProvider = FedloraVersion.class)
    static final class Sample implements Callable<Integer> {
        @Option(names = "--count", paramLabel = "N", defaultValue = "1", description = "how many")
        int count;

        @Option(names = "--mode", paramLabel = "M", defaultValue = "ok")
        String mode;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            switch (mode) {
                case "user" -> throw new UserError("no such file: x");
                case "late-usage" -> throw new CommandLine.ParameterException(spec.commandLine(), "--mode late-usage is refused");
                case "bug" -> throw new IllegalStateException("broken");
                default -> {
                    spec.commandLine().getOut().println("count " + count);
                    return 0;
                }
            }
        }
    }

    private String out;
    private String err;

    private int run(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int code = Cli.execute(new Sample(), args, new PrintStream(o, true, StandardCharsets.UTF_8),
                new PrintStream(e, true, StandardCharsets.UTF_8));
        out = o.toString(StandardCharsets.UTF_8);
        err = e.toString(StandardCharsets.UTF_8);
        return code;
    }

    @Test
    void helpGoesToStdoutWithTheExitCodes() {
        assertThat(run("--help")).isZero();
        assertThat(out).startsWith("Usage: sample [-hV] [--count=N] [--mode=M]").contains("Exit codes:")
                .contains("0   done").contains("2   bad command line");
        assertThat(err).isEmpty();
        assertThat(run("-h")).isZero();
    }

    @Test
    void versionIsTheMavenProjectVersion() throws IOException {
        // the parent's version in this module's pom is the project version Maven filtered into version.properties
        Matcher m = Pattern.compile("<parent>.*?<version>([^<]+)</version>", Pattern.DOTALL)
                .matcher(Files.readString(Path.of("pom.xml")));
        assertThat(m.find()).isTrue();
        assertThat(run("--version")).isZero();
        assertThat(out.strip()).isEqualTo("fedlora " + m.group(1));
        assertThat(FedloraVersion.version()).isEqualTo(m.group(1)).doesNotContain("${");
    }

    @Test
    void unknownOptionAndBadValueAreUsageErrorsOnStderr() {
        assertThat(run("--cuont", "3")).isEqualTo(ExitCode.USAGE);
        assertThat(out).isEmpty();
        assertThat(err).contains("error: Unknown option").contains("'--cuont'").contains("Usage: sample");

        assertThat(run("--count", "three")).isEqualTo(ExitCode.USAGE);
        assertThat(err).contains("--count").contains("three").contains("Usage: sample");

        assertThat(run("--mode", "late-usage")).isEqualTo(ExitCode.USAGE);
        assertThat(err).contains("error: --mode late-usage is refused").contains("Usage: sample");
    }

    @Test
    void userErrorIsOneLineAndFailureIsExitOne() {
        assertThat(run("--mode", "user")).isEqualTo(ExitCode.USAGE);
        assertThat(err.strip()).isEqualTo("error: no such file: x");

        assertThat(run("--mode", "bug")).isEqualTo(ExitCode.FAILURE);
        assertThat(err).startsWith("error: broken").doesNotContain("\tat ");

        assertThat(run("--count", "4")).isZero();
        assertThat(out).isEqualTo("count 4" + System.lineSeparator());
    }

    @Test
    void aWrappedFailureLeadsWithItsRootCause() {
        String chain = "Error creating bean with name 'auditController': " + "x".repeat(900)
                + ": data dir /d is in use by another fedlora coordinator";
        Exception wrapped = new IllegalStateException(chain, new RuntimeException("middle",
                new IllegalStateException("data dir /d is in use by another fedlora coordinator")));
        java.util.List<String> lines = Cli.failureLines(wrapped);
        assertThat(lines.get(0)).isEqualTo("error: data dir /d is in use by another fedlora coordinator");
        assertThat(lines.get(1)).startsWith("  while: Error creating bean with name 'auditController'")
                .hasSizeLessThan(Cli.CONTEXT_CHARS + 20);
        assertThat(Cli.failureLines(new IllegalStateException("broken"))).containsExactly("error: broken");
    }

    @Test
    void usageOfASubcommandPathIsPlainText() {
        String usage = Cli.usage(Cli.commandLine(new Sample()));
        assertThat(usage).startsWith("Usage: sample").doesNotContain("\u001B[");
    }
}
