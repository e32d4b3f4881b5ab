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
            usage: fedlora init-model --out DIR [--family gpt2|llama] [--clients N] [--seed N] [--threads N]
                   fedlora bench train [--model DIR | --shape init-model|gpt2-small] [--batch N] [--seq N]
                                       [--targets c_attn,c_proj,c_fc] [--rank N] [--steps N] [--warmup N]
                                       [--gradient-checkpointing] [--seed N] [--threads N (default: all cores)]""";

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
        String family = o.value("--family", "gpt2");
        o.checkAllUsed();
        if (!InitModel.FAMILIES.contains(family)) {
            throw new UsageException("--family must be one of " + InitModel.FAMILIES + ", got '" + family + "'");
        }
        NativeThreads.apply(threads);
        InitModel.run(dir, clients, seed, out, InitModel.Settings.defaults(), family);
        return 0;
    }

    private int benchTrain(Options o) {
        o.flag("--json"); // JSON is always printed; the flag is accepted for older scripts
        String modelDir = o.value("--model", "");
        TrainBenchmark.Shape shape = TrainBenchmark.Shape.parse(o.value("--shape", "init-model"));
        int steps = o.intValue("--steps", 100);
        int batch = o.intValue("--batch", 8);
        int seq = o.intValue("--seq", 64);
        List<String> targets = List.of(o.value("--targets", "c_attn").split(","));
        int rank = o.intValue("--rank", 8);
        int warmup = o.intValue("--warmup", -1);
        boolean checkpointing = o.flag("--gradient-checkpointing");
        long seed = o.longValue("--seed", 42);
        int threads = o.intValue("--threads", 0);
        o.checkAllUsed();
        if (!modelDir.isEmpty() && o.wasGiven("--shape")) {
            throw new UsageException("give --model or --shape, not both");
        }
        NativeThreads.apply(threads);
        TrainBenchmark.Result r = new TrainBenchmark(new TrainBenchmark.Settings(modelDir.isEmpty() ? null : Path.of(modelDir), shape,
                batch, seq, targets, rank, steps, warmup, checkpointing, seed)).run();
        err.printf("backend: %s, %d threads%n", r.backend().summary(), r.threads());
        err.printf("LoRA train (fwd+bwd+clip+AdamW): %.0f tokens/s, %.1f ms/step, peak RSS %.2f GB%n",
                r.train().tokensPerSecond(), r.train().msPerStep(), r.train().peakRssBytes() / 1e9);
        err.printf("forward only:                    %.0f tokens/s, %.1f ms/step, peak RSS %.2f GB%n",
                r.forward().tokensPerSecond(), r.forward().msPerStep(), r.forward().peakRssBytes() / 1e9);
        err.printf("train FLOP/s %.2f G = %.2f of a plain sgemm %s (%.2f G)%n", r.trainFlops() / 1e9,
                r.trainFlops() / r.sgemmFlops(), r.gemmShape(), r.sgemmFlops() / 1e9);
        out.println(r.toJson());
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

        boolean wasGiven(String name) {
            return args.contains(name);
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
