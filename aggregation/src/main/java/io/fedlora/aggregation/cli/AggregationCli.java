package io.fedlora.aggregation.cli;

import io.fedlora.cli.Cli;
import io.fedlora.cli.FedloraVersion;
import java.io.PrintStream;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Command line of the aggregation library: {@code aggregate} (offline FedEx/FedIT/FFA over PEFT adapter
 * directories) and {@code bench aggregate}. Exit codes: 0 success, 2 bad usage or bad input, 1 anything else.
 * Results go to stdout, logs (ND4J's included) to stderr.
 */
@Command(name = "fedlora", mixinStandardHelpOptions = true, versionProvider = FedloraVersion.class,
        subcommands = {AggregateCommand.class, AggregationCli.Bench.class},
        description = "Offline LoRA aggregation and its benchmark.")
public final class AggregationCli implements Runnable {

    private final PrintStream out;
    private final PrintStream err;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public AggregationCli(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    /** Without this the picocli factory could not build the root; used only as the command object. */
    AggregationCli() {
        this(System.out, System.err);
    }

    public static void main(String[] args) {
        if (System.getProperty("logback.configurationFile") == null) {
            // ND4J logs every op at DEBUG under logback's default setup (on stdout), which costs more than the
            // maths and breaks --json; this configuration logs INFO and up to stderr.
            System.setProperty("logback.configurationFile", "fedlora-aggregation-cli-logback.xml");
        }
        System.exit(new AggregationCli(System.out, System.err).run(args));
    }

    /** This module's commands, configured as every fedlora command is (the README's usage blocks come from here). */
    public static CommandLine commandLine() {
        return Cli.commandLine(new AggregationCli());
    }

    /** Runs one command and returns its exit code (never calls {@code System.exit}). */
    public int run(String[] args) {
        return Cli.execute(this, args, out, err);
    }

    /** Without a subcommand: the usage, as a usage error. */
    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "give a command: aggregate or bench aggregate");
    }

    /** {@code bench}: the group of benchmarks this module has. */
    @Command(name = "bench", mixinStandardHelpOptions = true, versionProvider = FedloraVersion.class,
            subcommands = BenchAggregateCommand.class, description = "Benchmarks.")
    static final class Bench implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            throw new CommandLine.ParameterException(spec.commandLine(), "give a benchmark: bench aggregate");
        }
    }
}
