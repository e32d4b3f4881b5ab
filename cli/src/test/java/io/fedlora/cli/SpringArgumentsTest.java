package io.fedlora.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** What the coordinator's and the agent's command lines share: checked before the application starts. */
class SpringArgumentsTest {

    @Command(name = "fedlora sample", mixinStandardHelpOptions = true, versionProvider = FedloraVersion.class)
    static final class Sample extends SpringArguments {
        @Option(names = "--dir", paramLabel = "DIR")
        String dir;

        Sample(Application application) {
            super(application);
        }

        Sample() {
        }

        @Override
        protected Pattern passThrough() {
            return Pattern.compile("--(sample|spring)\\.[a-z.-]+=.*");
        }

        @Override
        protected List<String> optionArgs(CommandLine cl) {
            if (dir == null) {
                return List.of();
            }
            if (dir.isBlank()) {
                throw invalid(cl, "--dir", dir, "a directory");
            }
            return List.of("--sample.dir=" + dir);
        }
    }

    private final List<List<String>> started = new ArrayList<>();
    private String err;

    private int run(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int code = Cli.execute(new Sample(springArgs -> {
            started.add(List.of(springArgs));
            return 0;
        }), args, new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(e, true, StandardCharsets.UTF_8));
        err = e.toString(StandardCharsets.UTF_8);
        return code;
    }

    @Test
    void optionsThenPropertiesReachTheApplication() {
        assertThat(run("--spring.main.banner-mode=off", "--dir", "/d", "--sample.x=1")).isZero();
        assertThat(started).containsExactly(List.of("--sample.dir=/d", "--spring.main.banner-mode=off", "--sample.x=1"));
        assertThat(SpringArguments.toSpringArgs(Sample::new, new String[] {"--dir=/e"})).containsExactly("--sample.dir=/e");
    }

    @Test
    void helpAndEveryRefusalStartNothing() {
        assertThat(run("--help")).isZero();
        assertThat(run("--dri", "/d")).isEqualTo(ExitCode.USAGE);
        assertThat(err).contains("Unknown option: '--dri'").contains("Usage: fedlora sample");
        assertThat(run("--other.key=v")).isEqualTo(ExitCode.USAGE);
        assertThat(run("--sample.key")).isEqualTo(ExitCode.USAGE);
        assertThat(err).contains("properties take the form --key=value");
        assertThat(run("--dir", " ")).isEqualTo(ExitCode.USAGE);
        assertThat(err).contains("Invalid value for option '--dir': ' ' (expected a directory)");
        assertThat(started).isEmpty();
    }

    @Test
    void aParseOnlyInstanceRefusesToRun() {
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        assertThat(Cli.execute(new Sample(), new String[0], new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(e, true, StandardCharsets.UTF_8))).isEqualTo(ExitCode.FAILURE);
        assertThat(e.toString(StandardCharsets.UTF_8)).contains("this command line only parses");
    }
}
