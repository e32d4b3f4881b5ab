package io.fedlora.agent.cli;

import io.fedlora.agent.bench.TrainBenchmark;
import io.fedlora.agent.daemon.NativeThreads;
import io.fedlora.agent.initmodel.InitModel;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Plain-{@code main} entry for the agent's offline commands (no Spring): {@code init-model} and {@code bench train}.
 * Exit status 0 on success, 2 on a usage error, 1 on a failure. Both default to one native thread ({@code --threads}):
 * the init-model network's ops are too small for OpenMP to pay off, and its barriers stall on a busy 2-core machine.
 */
public final class AgentCli {

    private static final String USAGE = """
            usage: fedlora init-model --out DIR [--clients N] [--seed N] [--threads N]
                   fedlora bench train [--json] [--steps N] [--batch N] [--seed N] [--threads N]""";

    private final PrintStream out;
    private final PrintStream err;

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

    /** Runs one command; returns the exit status. */
    public int run(String[] args) {
        try {
            if (args.length >= 1 && args[0].equals("init-model")) {
                return initModel(new Options(Arrays.copyOfRange(args, 1, args.length)));
            }
            if (args.length >= 2 && args[0].equals("bench") && args[1].equals("train")) {
                return benchTrain(new Options(Arrays.copyOfRange(args, 2, args.length)));
            }
            err.println(USAGE);
            return 2;
        } catch (UsageException e) {
            err.println("error: " + e.getMessage());
            err.println(USAGE);
            return 2;
        } catch (RuntimeException e) {
            err.println("error: " + e.getMessage());
            return 1;
        }
    }

    private int initModel(Options o) {
        Path dir = Path.of(o.value("--out", null));
        int clients = o.intValue("--clients", 3);
        long seed = o.longValue("--seed", 42);
        int threads = o.intValue("--threads", 1);
        o.checkAllUsed();
        NativeThreads.apply(threads);
        InitModel.run(dir, clients, seed, out);
        return 0;
    }

    private int benchTrain(Options o) {
        boolean json = o.flag("--json");
        int steps = o.intValue("--steps", 100);
        int batch = o.intValue("--batch", 8);
        long seed = o.longValue("--seed", 42);
        int threads = o.intValue("--threads", 1);
        o.checkAllUsed();
        NativeThreads.apply(threads);
        TrainBenchmark.Result r = new TrainBenchmark(steps, batch, seed).run();
        out.printf("backend: %s%n", r.backend().summary());
        out.printf("LoRA train (fwd+bwd+AdamW): %.0f tokens/s, %.1f ms/step, peak heap %.1f MiB%n",
                r.train().tokensPerSecond(), r.train().msPerStep(), r.train().peakHeapBytes() / 1048576.0);
        out.printf("forward only:               %.0f tokens/s, %.1f ms/step, peak heap %.1f MiB%n",
                r.forward().tokensPerSecond(), r.forward().msPerStep(), r.forward().peakHeapBytes() / 1048576.0);
        out.printf("a train step costs %.2f forward passes (about 2 is the floor for LoRA-only gradients)%n",
                r.trainStepOverForward());
        if (json) {
            out.println(r.toJson());
        }
        return 0;
    }

    /** A usage error: bad or missing option. */
    static final class UsageException extends RuntimeException {
        UsageException(String message) {
            super(message);
        }
    }

    /** {@code --name value} and {@code --flag} options, each used at most once. */
    static final class Options {
        private final List<String> args;
        private final boolean[] used;

        Options(String[] args) {
            this.args = new ArrayList<>(List.of(args));
            this.used = new boolean[args.length];
        }

        boolean flag(String name) {
            int i = args.indexOf(name);
            if (i >= 0) {
                used[i] = true;
            }
            return i >= 0;
        }

        String value(String name, String fallback) {
            int i = args.indexOf(name);
            if (i < 0) {
                if (fallback == null) {
                    throw new UsageException(name + " is required");
                }
                return fallback;
            }
            if (i + 1 >= args.size()) {
                throw new UsageException(name + " needs a value");
            }
            used[i] = true;
            used[i + 1] = true;
            return args.get(i + 1);
        }

        int intValue(String name, int fallback) {
            return (int) longValue(name, fallback);
        }

        long longValue(String name, long fallback) {
            String v = value(name, Long.toString(fallback));
            try {
                return Long.parseLong(v);
            } catch (NumberFormatException e) {
                throw new UsageException(name + " must be a number, got '" + v + "'");
            }
        }

        void checkAllUsed() {
            for (int i = 0; i < used.length; i++) {
                if (!used[i]) {
                    throw new UsageException("unknown argument '" + args.get(i) + "'");
                }
            }
        }
    }
}
