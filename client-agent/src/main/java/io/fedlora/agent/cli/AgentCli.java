package io.fedlora.agent.cli;

import io.fedlora.cli.Cli;
import io.fedlora.cli.FedloraVersion;
import java.io.PrintStream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * Plain-{@code main} entry for the agent's offline commands (no Spring): {@code init-model} and {@code bench train}.
 * Exit status 0 on success, 2 on a usage error, 1 on a failure. Results go to stdout, logs (ND4J's included) to
 * stderr. Both default to one native thread ({@code --threads}): the init-model network's ops are too small for
 * OpenMP to pay off, and its barriers stall on a busy 2-core machine.
 */
@Command(name = "fedlora", mixinStandardHelpOptions = true, versionProvider = FedloraVersion.class,
        subcommands = {InitModelCommand.class, AgentCli.Bench.class},
        description = "The agent's offline commands: init-model and bench train.")
public final class AgentCli implements Runnable {

    final PrintStream out;
    final PrintStream err;

    @Spec
    CommandSpec spec;

    public AgentCli(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    public static void main(String[] args) {
        // javacpp otherwise measures the process RSS on every native allocation: a large share of a small op's cost
        if (System.getProperty("org.bytedeco.javacpp.maxphysicalbytes") == null) {
            System.setProperty("org.bytedeco.javacpp.maxphysicalbytes", "0");
        }
        System.exit(new AgentCli(System.out, System.err).run(args));
    }

    /** This module's offline commands, configured as every fedlora command is (the README's usage comes from here). */
    public static CommandLine commandLine() {
        return Cli.commandLine(new AgentCli(System.out, System.err));
    }

    /** Runs one command; returns the exit status. */
    public int run(String[] args) {
        return Cli.execute(this, args, out, err);
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "give a command: init-model or bench train");
    }

    /** {@code bench}: the benchmarks of the agent module. */
    @Command(name = "bench", mixinStandardHelpOptions = true, versionProvider = FedloraVersion.class,
            subcommands = BenchTrainCommand.class, description = "Benchmarks.")
    static final class Bench implements Runnable {

        @CommandLine.ParentCommand
        AgentCli root;

        @Spec
        CommandSpec spec;

        @Override
        public void run() {
            throw new CommandLine.ParameterException(spec.commandLine(), "give a benchmark: bench train");
        }
    }
}
