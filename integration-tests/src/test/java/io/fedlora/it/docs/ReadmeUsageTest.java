package io.fedlora.it.docs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;

import io.fedlora.agent.cli.AgentCli;
import io.fedlora.agent.daemon.AgentArguments;
import io.fedlora.aggregation.cli.AggregationCli;
import io.fedlora.cli.Cli;
import io.fedlora.coordinator.CoordinatorArguments;
import io.fedlora.demo.bench.BenchFederationCli;
import io.fedlora.demo.cli.DemoArgs;
import io.fedlora.demo.process.FedloraHome;
import io.fedlora.demo.status.StatusCommand;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The README shows {@code ./fedlora <command> --help} for every command the launcher lists, each as the exact usage
 * text between {@code <!-- usage: COMMAND -->} and the end of the {@code text} block below it. This test renders each
 * command's picocli usage in-process (the same {@code Cli} configuration {@code --help} prints, 100 columns) and
 * requires the README's copy to be identical, so an option added, renamed or re-described without a README update
 * fails here. On a mismatch it names the missing or extra options and writes the README as it should read to
 * {@code target/readme-usage/README.md}.
 */
class ReadmeUsageTest {

    private static final Pattern BLOCK = Pattern.compile("<!-- usage: ([a-z][a-z -]*?) -->\\n```text\\n(.*?)```", Pattern.DOTALL);
    private static final Pattern OPTION = Pattern.compile("(?<![\\w-])(--?[A-Za-z][\\w-]*)");

    /** Every launcher command and the command line whose usage its {@code --help} prints. */
    private static final Map<String, Supplier<CommandLine.Model.CommandSpec>> COMMANDS = commands();

    private final Path home = FedloraHome.locate();

    private static Map<String, Supplier<CommandLine.Model.CommandSpec>> commands() {
        Map<String, Supplier<CommandLine.Model.CommandSpec>> m = new LinkedHashMap<>();
        m.put("coordinator", () -> CoordinatorArguments.commandLine().getCommandSpec());
        m.put("agent", () -> AgentArguments.commandLine().getCommandSpec());
        m.put("demo", () -> DemoArgs.commandLine().getCommandSpec());
        m.put("status", () -> StatusCommand.commandLine().getCommandSpec());
        m.put("init-model", () -> sub(AgentCli.commandLine(), "init-model"));
        m.put("aggregate", () -> sub(AggregationCli.commandLine(), "aggregate"));
        m.put("bench aggregate", () -> sub(AggregationCli.commandLine(), "bench", "aggregate"));
        m.put("bench train", () -> sub(AgentCli.commandLine(), "bench", "train"));
        m.put("bench federation", () -> BenchFederationCli.commandLine().getCommandSpec());
        return m;
    }

    private static CommandLine.Model.CommandSpec sub(CommandLine root, String... path) {
        CommandLine cl = root;
        for (String name : path) {
            cl = cl.getSubcommands().get(name);
        }
        return cl.getCommandSpec();
    }

    /** What {@code ./fedlora <command> --help} prints. */
    private static String usage(String command) {
        return Cli.usage(COMMANDS.get(command).get().commandLine());
    }

    @Test
    void everyLauncherCommandIsCoveredHere() throws IOException {
        assertThat(launcherCommands()).as("the commands ./fedlora help lists (add a new one to COMMANDS and the README)")
                .containsExactlyInAnyOrderElementsOf(COMMANDS.keySet());
    }

    @Test
    void theReadmeShowsEachCommandsHelpExactly() throws IOException {
        String readme = Files.readString(home.resolve("README.md"));
        Map<String, String> shown = new LinkedHashMap<>();
        List<String> duplicates = new ArrayList<>();
        Matcher m = BLOCK.matcher(readme);
        while (m.find()) {
            if (shown.put(m.group(1), m.group(2)) != null) {
                duplicates.add(m.group(1));
            }
        }
        assertThat(duplicates).as("commands whose usage the README shows twice").isEmpty();
        assertThat(shown.keySet()).as("README usage blocks (<!-- usage: COMMAND --> then a ```text block)")
                .containsExactlyInAnyOrderElementsOf(COMMANDS.keySet());

        List<String> problems = new ArrayList<>();
        for (String command : COMMANDS.keySet()) {
            String expected = usage(command);
            String actual = shown.get(command);
            if (!normalise(expected).equals(normalise(actual))) {
                Set<String> specOptions = options(COMMANDS.get(command).get());
                Set<String> readmeOptions = mentioned(actual);
                Set<String> missing = new LinkedHashSet<>(specOptions);
                missing.removeAll(readmeOptions);
                Set<String> extra = new LinkedHashSet<>(readmeOptions);
                extra.removeAll(mentioned(expected));
                problems.add("./fedlora " + command + " --help differs from the README"
                        + (missing.isEmpty() ? "" : "; options missing there: " + missing)
                        + (extra.isEmpty() ? "" : "; options it shows that the command lacks: " + extra)
                        + "; " + firstDifference(normalise(actual), normalise(expected)) + "; --help prints:\n" + expected);
            }
        }
        if (!problems.isEmpty()) {
            Path fixed = home.resolve("integration-tests/target/readme-usage/README.md");
            Files.createDirectories(fixed.getParent());
            Files.writeString(fixed, BLOCK.matcher(readme).replaceAll(r -> Matcher.quoteReplacement(
                    "<!-- usage: " + r.group(1) + " -->\n```text\n" + (COMMANDS.containsKey(r.group(1))
                            ? usage(r.group(1)) : r.group(2)) + "```")));
            problems.add("the README with every block as --help prints it: " + fixed);
        }
        assertThat(problems).as(String.join("\n\n", problems)).isEmpty();
    }

    @Test
    void aNewOptionWithoutAReadmeUpdateIsCaught() {
        // the comparison itself: an option the README's copy lacks is named
        String readmeCopy = usage("demo");
        CommandLine cl = DemoArgs.commandLine();
        cl.getCommandSpec().addOption(OptionSpec.builder("--brand-new").paramLabel("X").type(String.class)
                .description("an option nobody documented").build());
        String help = Cli.usage(cl);
        assertThat(normalise(help)).isNotEqualTo(normalise(readmeCopy));
        Set<String> missing = new LinkedHashSet<>(options(cl.getCommandSpec()));
        missing.removeAll(mentioned(readmeCopy));
        assertThat(missing).containsExactly("--brand-new");
    }

    /** The commands in the launcher's usage text ({@code ./fedlora help}), {@code help} itself aside. */
    private List<String> launcherCommands() throws IOException {
        String script = Files.readString(home.resolve("fedlora"));
        String usage = script.substring(script.indexOf("Commands:"), script.indexOf("Environment:"));
        Pattern line = Pattern.compile("^  ((?:bench )?[a-z][a-z-]*)(?= )", Pattern.MULTILINE);
        List<String> commands = new ArrayList<>();
        Matcher m = line.matcher(usage);
        while (m.find()) {
            if (!m.group(1).equals("help")) {
                commands.add(m.group(1));
            }
        }
        return commands;
    }

    private static Set<String> options(CommandLine.Model.CommandSpec spec) {
        return spec.options().stream().flatMap(o -> List.of(o.names()).stream())
                .collect(Collectors.toCollection(LinkedHashSet::new));
    }

    private static Set<String> mentioned(String usage) {
        Set<String> names = new LinkedHashSet<>();
        Matcher m = OPTION.matcher(usage);
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    private static String firstDifference(String readme, String help) {
        List<String> a = readme.lines().toList();
        List<String> b = help.lines().toList();
        for (int i = 0; i < Math.max(a.size(), b.size()); i++) {
            String x = i < a.size() ? a.get(i) : "(end)";
            String y = i < b.size() ? b.get(i) : "(end)";
            if (!x.equals(y)) {
                return "first difference at line " + (i + 1) + ": README '" + x + "', --help '" + y + "'";
            }
        }
        return "no difference";
    }

    /** Line endings and trailing blanks aside (editors strip them), the text must match. */
    private static String normalise(String text) {
        return text.replace("\r\n", "\n").lines().map(String::stripTrailing).collect(Collectors.joining("\n")).strip();
    }
}
