package io.fedlora.demo.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Parses the {@code ./fedlora demo} command line into {@link DemoOptions}. Kept free of I/O so the
 * accepted syntax is unit-tested: {@code --name value} and {@code --name=value} both work.
 */
public final class DemoArgs {

    /** Result of parsing: either options to run or a request for the usage text. */
    public record Parsed(Optional<DemoOptions> options, boolean helpRequested) {
    }

    public static final String USAGE = """
            Usage: ./fedlora demo [options]
              Runs a whole federation on this machine: an embedded PostgreSQL, a coordinator and N client
              agents as separate processes on loopback, then prints per-round results.

              --clients N        client agents and non-IID datasets (default %d)
              --rounds N         federated rounds (default %d)
              --strategy S       fedex | fedit | ffa (default %s)
              --seed N           seed for the model, the data split and training (default %d)
              --local-steps N    optimiser steps per client per round (default %d)
              --lr X             local learning rate (default %s)
              --family F         gpt2 | llama: the model init-model writes (default gpt2)
              --json             the last line of stdout is one JSON object with the results
              --compare          run fedex and fedit on the same seed and data, side by side
              --work-dir DIR     write everything under DIR (default: a new temporary directory)
              --keep             keep the work directory after a successful run
              -h, --help         this text
            """.formatted(DemoOptions.defaults().clients(), DemoOptions.defaults().rounds(), DemoOptions.defaults().strategy(),
            DemoOptions.defaults().seed(), DemoOptions.defaults().localSteps(), DemoOptions.defaults().learningRate());

    private static final java.util.Set<String> VALUE_OPTIONS =
            java.util.Set.of("--clients", "--rounds", "--strategy", "--seed", "--local-steps", "--lr", "--work-dir",
                    "--family");

    private DemoArgs() {
    }

    public static Parsed parse(List<String> args) throws UsageException {
        DemoOptions d = DemoOptions.defaults();
        int clients = d.clients();
        int rounds = d.rounds();
        String strategy = d.strategy();
        long seed = d.seed();
        boolean json = false;
        boolean compare = false;
        Optional<Path> workDir = Optional.empty();
        boolean keep = false;
        int localSteps = d.localSteps();
        double lr = d.learningRate();
        String family = d.family();

        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            String name = arg;
            String inlineValue = null;
            int eq = arg.indexOf('=');
            if (arg.startsWith("--") && eq > 0) {
                name = arg.substring(0, eq);
                inlineValue = arg.substring(eq + 1);
            }
            switch (name) {
                case "-h", "--help" -> {
                    return new Parsed(Optional.empty(), true);
                }
                case "--json" -> json = flag(name, inlineValue);
                case "--compare" -> compare = flag(name, inlineValue);
                case "--keep" -> keep = flag(name, inlineValue);
                default -> {
                    if (!VALUE_OPTIONS.contains(name)) {
                        throw new UsageException("unknown option '" + arg + "'");
                    }
                    String value;
                    if (inlineValue != null) {
                        value = inlineValue;
                    } else {
                        if (i + 1 >= args.size()) {
                            throw new UsageException("missing value after " + name);
                        }
                        value = args.get(++i);
                    }
                    switch (name) {
                        case "--clients" -> clients = intValue(name, value);
                        case "--rounds" -> rounds = intValue(name, value);
                        case "--strategy" -> strategy = value.toLowerCase(java.util.Locale.ROOT);
                        case "--seed" -> seed = longValue(name, value);
                        case "--local-steps" -> localSteps = intValue(name, value);
                        case "--lr" -> lr = doubleValue(name, value);
                        case "--family" -> family = value.toLowerCase(java.util.Locale.ROOT);
                        case "--work-dir" -> {
                            if (value.isBlank()) {
                                throw new UsageException("--work-dir needs a directory");
                            }
                            workDir = Optional.of(Path.of(value));
                        }
                        default -> throw new UsageException("unknown option '" + arg + "'");
                    }
                }
            }
        }
        try {
            return new Parsed(Optional.of(new DemoOptions(
                    clients, rounds, strategy, seed, json, compare, workDir, keep, localSteps, lr, family)), false);
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }

    private static boolean flag(String name, String inlineValue) throws UsageException {
        if (inlineValue != null) {
            throw new UsageException(name + " takes no value");
        }
        return true;
    }

    private static int intValue(String name, String value) throws UsageException {
        try {
            return Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new UsageException(name + " needs a whole number, got '" + value + "'");
        }
    }

    private static long longValue(String name, String value) throws UsageException {
        try {
            return Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            throw new UsageException(name + " needs a whole number, got '" + value + "'");
        }
    }

    private static double doubleValue(String name, String value) throws UsageException {
        try {
            return Double.parseDouble(value.trim());
        } catch (NumberFormatException e) {
            throw new UsageException(name + " needs a number, got '" + value + "'");
        }
    }
}
