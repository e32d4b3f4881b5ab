package io.fedlora.demo.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;

import io.fedlora.cli.Cli;
import io.fedlora.cli.FedloraVersion;
import io.fedlora.cli.PositiveInteger;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The {@code ./fedlora demo} command line (picocli, through the shared {@code fedlora-cli} module): parses into
 * {@link DemoOptions} and hands them to a {@link Demo}, so the accepted syntax is unit-tested without running a
 * federation. {@code --name value} and {@code --name=value} both work; defaults come from
 * {@link DemoOptions#defaults()}.
 */
@Command(name = "fedlora demo", mixinStandardHelpOptions = true, versionProvider = FedloraVersion.class,
        description = {"Runs a whole federation on this machine: an embedded PostgreSQL, a coordinator and N client",
                "agents as separate processes on loopback, then prints per-round results.",
                "The work directory is a new one under java.io.tmpdir, removed after a successful run unless",
                "--keep is given; a failed run keeps it, and a --work-dir you name is never removed.",
                "Interrupted (Ctrl-C, SIGTERM), the demo stops the agents, the coordinator and its embedded",
                "PostgreSQL, keeps the work directory and prints where it is."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            "  0:the federation(s) completed",
            "  1:the demo failed (the message names the log files)",
            "  2:bad command line",
            "130:interrupted by SIGINT (143: SIGTERM); child processes stopped, work directory kept"})
public final class DemoArgs implements Callable<Integer> {

    /** What runs once the command line is good. */
    @FunctionalInterface
    public interface Demo {
        int run(DemoOptions options) throws Exception;
    }

    private static final DemoOptions DEFAULTS = DemoOptions.defaults();

    /** The {@code --strategy} values. */
    enum Strategy { fedex, fedit, ffa }

    /** The {@code --family} values. */
    enum Family { gpt2, llama }

    @Option(names = "--clients", paramLabel = "N", converter = PositiveInteger.class,
            description = "client agents and non-IID datasets (default ${DEFAULT-VALUE})")
    int clients = DEFAULTS.clients();

    @Option(names = "--rounds", paramLabel = "N", converter = PositiveInteger.class,
            description = "federated rounds (default ${DEFAULT-VALUE})")
    int rounds = DEFAULTS.rounds();

    @Option(names = "--strategy", paramLabel = "S", description = "fedex | fedit | ffa (default ${DEFAULT-VALUE})")
    Strategy strategy = Strategy.valueOf(DEFAULTS.strategy());

    @Option(names = "--seed", paramLabel = "N",
            description = "seed for the model, the data split and training (default ${DEFAULT-VALUE})")
    long seed = DEFAULTS.seed();

    @Option(names = "--local-steps", paramLabel = "N", converter = PositiveInteger.class,
            description = "optimiser steps per client per round (default ${DEFAULT-VALUE})")
    int localSteps = DEFAULTS.localSteps();

    @Option(names = "--lr", paramLabel = "X", description = "local learning rate (default ${DEFAULT-VALUE})")
    double learningRate = DEFAULTS.learningRate();

    @Option(names = "--family", paramLabel = "F",
            description = "gpt2 | llama: the model init-model writes (default ${DEFAULT-VALUE})")
    Family family = Family.valueOf(DEFAULTS.family());

    @Option(names = "--json", description = "stdout is one JSON line with the results (progress goes to stderr)")
    boolean json;

    @Option(names = "--compare", description = "run fedex and fedit on the same seed and data, side by side")
    boolean compare;

    @Option(names = "--work-dir", paramLabel = "DIR",
            description = "write everything under DIR and keep it (default: a new temporary directory)")
    Path workDir;

    @Option(names = "--keep", description = "keep the temporary work directory (logs, exported model) after success")
    boolean keep;

    @Spec
    CommandSpec spec;

    private final Demo demo;

    /** Options that run {@code demo} when executed. */
    public DemoArgs(Demo demo) {
        this.demo = demo;
    }

    /** Options only parsed (tests, the README's usage). */
    public DemoArgs() {
        this(options -> {
            throw new IllegalStateException("this command line only parses");
        });
    }

    /** The demo's command line, configured as every fedlora command is (the README's usage comes from here). */
    public static CommandLine commandLine() {
        return Cli.commandLine(new DemoArgs());
    }

    /** Parses {@code args} (throwing {@link CommandLine.ParameterException} on a bad one) into options. */
    public static DemoOptions parse(String... args) {
        DemoArgs a = new DemoArgs();
        CommandLine cl = Cli.commandLine(a);
        cl.parseArgs(args);
        return a.options(cl);
    }

    @Override
    public Integer call() throws Exception {
        return demo.run(options(spec.commandLine()));
    }

    /** The options given; a value {@link DemoOptions} refuses is a usage error naming the option. */
    DemoOptions options(CommandLine cl) {
        if (workDir != null && workDir.toString().isBlank()) {
            throw new CommandLine.ParameterException(cl, "Invalid value for option '--work-dir': it is blank");
        }
        try {
            return new DemoOptions(clients, rounds, strategy.name(), seed, json, compare, Optional.ofNullable(workDir),
                    keep, localSteps, learningRate, family.name().toLowerCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(cl, "Invalid value: " + e.getMessage());
        }
    }
}
