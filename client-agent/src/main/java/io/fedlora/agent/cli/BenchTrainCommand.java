package io.fedlora.agent.cli;

import io.fedlora.agent.bench.TrainBenchmark;
import io.fedlora.agent.daemon.NativeThreads;
import io.fedlora.cli.FedloraVersion;
import io.fedlora.cli.PositiveInteger;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * {@code bench train}: local LoRA training speed and memory (forward + backward + clipping + AdamW) against the
 * forward pass alone and a plain sgemm of the dominant GEMM shape, measured in the same run. The JSON result is
 * the only thing on stdout; the readable summary goes to stderr.
 */
@Command(name = "train", mixinStandardHelpOptions = true, versionProvider = FedloraVersion.class,
        description = {"Benchmarks local LoRA training: tokens/s and ms/step for the train step and the forward pass,",
                "peak RSS and heap, and train FLOP/s as a fraction of a plain sgemm of the dominant GEMM shape.",
                "JSON on stdout, a summary on stderr."})
final class BenchTrainCommand implements Callable<Integer> {

    @Option(names = "--json", description = "accepted for older scripts: stdout is always one JSON object")
    boolean json;

    @Option(names = "--model", paramLabel = "DIR", description = "an HF model directory the agent can train")
    Path model;

    @Option(names = "--shape", paramLabel = "SHAPE", description = "random weights of a known shape instead of --model: "
            + "init-model or gpt2-small (default init-model)")
    String shape;

    @Option(names = "--batch", paramLabel = "N", defaultValue = "8", converter = PositiveInteger.class,
            description = "sequences per step (default ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--seq", paramLabel = "N", defaultValue = "64", converter = PositiveInteger.class,
            description = "tokens per sequence (default ${DEFAULT-VALUE})")
    int seq;

    @Option(names = "--targets", paramLabel = "MODULE", split = ",",
            description = "LoRA target modules (default: the family's, c_attn for GPT-2, q_proj,v_proj for Llama)")
    List<String> targets = List.of();

    @Option(names = "--rank", paramLabel = "N", defaultValue = "8", converter = PositiveInteger.class,
            description = "LoRA rank (default ${DEFAULT-VALUE})")
    int rank;

    @Option(names = "--steps", paramLabel = "N", defaultValue = "100", converter = PositiveInteger.class,
            description = "timed optimiser steps (default ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--warmup", paramLabel = "N", defaultValue = "-1",
            description = "at least N untimed warm-up steps per phase (default: enough for 1e11 matmul FLOPs, 2 to 20 steps: "
                    + "20 on init-model, 2 on GPT-2-small at batch 4 x seq 256)")
    int warmup;

    @Option(names = "--warmup-seconds", paramLabel = "S", defaultValue = "10",
            description = "and at least S seconds of them, so the JIT has settled (default "
                    + "${DEFAULT-VALUE}; 0 = steps only)")
    double warmupSeconds;

    @Option(names = "--gradient-checkpointing", description = "recompute each block's activations in backward")
    boolean gradientCheckpointing;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "42", description = "seed (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0",
            description = "native (BLAS/OpenMP) and kernel threads; 0 = all cores (default)")
    int threads;

    @ParentCommand
    AgentCli.Bench bench;

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (model != null && shape != null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "give --model or --shape, not both");
        }
        if (!(warmupSeconds >= 0) || Double.isInfinite(warmupSeconds)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--warmup-seconds must be 0 or more seconds");
        }
        if (threads < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--threads must be 0 (all cores) or positive");
        }
        TrainBenchmark.Shape parsedShape;
        try {
            parsedShape = TrainBenchmark.Shape.parse(shape == null ? "init-model" : shape);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--shape: " + e.getMessage());
        }
        NativeThreads.apply(threads);
        bench.root.err.printf("bench train: per phase, warm-up (at least %s steps and %.0f s), then %d timed steps%n",
                warmup >= 0 ? Integer.toString(warmup) : "the default", warmupSeconds, steps);
        TrainBenchmark.Result r = new TrainBenchmark(new TrainBenchmark.Settings(model, parsedShape, batch, seq, targets,
                rank, steps, warmup, warmupSeconds, gradientCheckpointing, seed)).run();
        PrintStream err = bench.root.err;
        err.printf("backend: %s, %d threads%n", r.backend().summary(), r.threads());
        err.printf("warm-up: %d train steps (%.1f s), %d forward steps (%.1f s)%n", r.trainWarmup().steps(),
                r.trainWarmup().seconds(), r.forwardWarmup().steps(), r.forwardWarmup().seconds());
        err.printf("LoRA train (fwd+bwd+clip+AdamW): %.0f tokens/s, %.1f ms/step, peak RSS %.2f GB%n",
                r.train().tokensPerSecond(), r.train().msPerStep(), r.train().peakRssBytes() / 1e9);
        err.printf("forward only:                    %.0f tokens/s, %.1f ms/step, peak RSS %.2f GB%n",
                r.forward().tokensPerSecond(), r.forward().msPerStep(), r.forward().peakRssBytes() / 1e9);
        err.printf("train FLOP/s %.2f G = %.2f of a plain sgemm %s (%.2f G)%n", r.trainFlops() / 1e9,
                r.trainFlops() / r.sgemmFlops(), r.gemmShape(), r.sgemmFlops() / 1e9);
        bench.root.out.println(r.toJson());
        return 0;
    }
}
