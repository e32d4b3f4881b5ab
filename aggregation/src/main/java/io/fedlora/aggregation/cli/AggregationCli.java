package io.fedlora.aggregation.cli;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;

/**
 * Command line of the aggregation library: {@code aggregate} (offline FedEx/FedIT/FFA over PEFT adapter
 * directories) and {@code bench aggregate}. Exit codes: 0 success, 2 bad usage or bad input, 1 anything else.
 */
public final class AggregationCli {

    private final PrintStream out;
    private final PrintStream err;

    public AggregationCli(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    public static void main(String[] args) {
        if (System.getProperty("logback.configurationFile") == null) {
            // ND4J logs every op at DEBUG under logback's default setup, which costs more than the maths.
            System.setProperty("logback.configurationFile", "fedlora-aggregation-cli-logback.xml");
        }
        System.exit(new AggregationCli(System.out, System.err).run(args));
    }

    /** Runs one command and returns its exit code (never calls {@code System.exit}). */
    public int run(String[] args) {
        List<String> a = Arrays.asList(args);
        try {
            if (a.isEmpty() || a.get(0).equals("--help") || a.get(0).equals("help")) {
                out.println(usage());
                return a.isEmpty() ? 2 : 0;
            }
            switch (a.get(0)) {
                case "aggregate" -> new AggregateCommand(out, err).run(a.subList(1, a.size()));
                case "bench" -> {
                    if (a.size() < 2 || !a.get(1).equals("aggregate")) {
                        throw new CliException("usage: bench aggregate --d D --k K --r R --clients N [--layout linear|conv1d]"
                                + " [--repeats N] [--json]");
                    }
                    new BenchAggregateCommand(out, err).run(a.subList(2, a.size()));
                }
                default -> throw new CliException("unknown command '" + a.get(0) + "'\n" + usage());
            }
            return 0;
        } catch (CliException e) {
            err.println("error: " + e.getMessage());
            return 2;
        } catch (RuntimeException | java.io.IOException e) {
            err.println("error: " + e);
            e.printStackTrace(err);
            return 1;
        }
    }

    static String usage() {
        return String.join("\n",
                "usage:",
                "  aggregate --base FILE.safetensors --update DIR[:N] --update DIR[:N] ... [--strategy fedex|fedit|ffa]"
                        + " [--uniform] --out DIR",
                "  bench aggregate --d 4096 --k 4096 --r 16 --clients 10 [--layout linear|conv1d] [--repeats N] [--json]");
    }
}
