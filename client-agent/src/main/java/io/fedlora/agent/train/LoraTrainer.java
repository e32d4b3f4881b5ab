package io.fedlora.agent.train;

import io.fedlora.agent.data.Example;
import io.fedlora.agent.data.JsonlDataset;
import io.fedlora.agent.model.CausalLm;
import io.fedlora.agent.model.DataParallelNetwork;
import io.fedlora.agent.model.GradientTarget;
import io.fedlora.agent.model.Gradients;
import io.fedlora.agent.model.LmNetwork;
import io.fedlora.agent.model.LoraTargets;
import io.fedlora.agent.model.StepWorkspace;
import io.fedlora.agent.model.ops.Parallel;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraInit;
import io.fedlora.aggregation.lora.LoraLayer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;

/**
 * Trains LoRA adapters on a frozen GPT-2 base for one federated round: seeded data order, mean token cross-entropy,
 * global-norm clipping, AdamW; with {@code freezeA} (FFA-LoRA) only B moves. The base model is never modified.
 * Reproducible on CPU: the same config, start factors, data and thread count give the same factors. With more than one
 * thread, a batch runs data-parallel ({@link DataParallelNetwork}): a micro-batch per thread.
 */
public final class LoraTrainer {

    private static final String WORKSPACE = "fedlora-lora-step";

    private final CausalLm base;
    private final TrainingConfig config;
    private final List<LoraLayer> layers;

    public LoraTrainer(CausalLm base, TrainingConfig config) {
        this.base = base;
        this.config = config;
        this.layers = LoraTargets.resolve(base.spec(), config.targetModules(), config.rank(), config.scaling());
    }

    /** The adapted layers this trainer trains, in model order. */
    public List<LoraLayer> layers() {
        return layers;
    }

    /**
     * Trains from {@code start} (module → factors; copied, never modified). Modules missing from {@code start} begin
     * at PEFT's init ({@link LoraInit}, from the config's seed and the module name).
     *
     * @throws CancellationException when the thread is interrupted (the cause is an {@link InterruptedException}; the
     *                               thread's interrupt status is set again)
     */
    public TrainingResult train(Map<String, LoraFactors> start, JsonlDataset data, TrainingListener listener) {
        if (data.size() == 0) {
            throw new IllegalArgumentException("no training examples in " + data.source());
        }
        checkLengths(data);
        for (String module : start.keySet()) {
            if (layers.stream().noneMatch(l -> l.module().equals(module))) {
                throw new IllegalArgumentException("start factors for '" + module + "', which is not a target module of this task");
            }
        }
        DataType dtype = base.dataType();
        Map<String, LoraFactors> factors = new LinkedHashMap<>();
        Map<String, INDArray> params = new LinkedHashMap<>();
        for (LoraLayer layer : layers) {
            LoraFactors s = start.get(layer.module());
            LoraFactors f;
            if (s != null) {
                s.checkFits(layer, "start factors");
                f = new LoraFactors(s.a().castTo(dtype).dup('c'), s.b().castTo(dtype).dup('c'));
            } else {
                LoraFactors init = LoraInit.init(layer, config.seed());
                f = new LoraFactors(init.a().castTo(dtype).dup('c'), init.b().castTo(dtype).dup('c'));
            }
            factors.put(layer.module(), f);
            if (!config.freezeA()) {
                params.put(layer.module() + ".lora_A", f.a());
            }
            params.put(layer.module() + ".lora_B", f.b());
        }
        LmNetwork network = DataParallelNetwork.of(base, factors, config.scaling().scale(), Parallel.matchingBlas(), false);
        AdamW optimiser = new AdamW(config.learningRate(), config.weightDecay());
        GradientTarget target = config.freezeA() ? GradientTarget.LORA_B_ONLY : GradientTarget.LORA;

        int n = data.size();
        int batchSize = Math.min(config.batchSize(), n);
        int stepsPerEpoch = (n + batchSize - 1) / batchSize;
        int totalSteps = config.localSteps() > 0 ? config.localSteps() : config.localEpochs() * stepsPerEpoch;
        SplittableRandom rng = new SplittableRandom(config.seed());
        int[] order = null;
        int cursor = n;
        double lossSum = 0;
        double targetSum = 0;
        long tokens = 0;
        long startNanos = System.nanoTime();
        for (int step = 1; step <= totalSteps; step++) {
            if (Thread.interrupted()) {
                CancellationException ce = new CancellationException("local training interrupted at step " + step + "/" + totalSteps);
                ce.initCause(new InterruptedException());
                Thread.currentThread().interrupt();
                throw ce;
            }
            if (cursor >= n) {
                order = shuffled(n, rng);
                cursor = 0;
            }
            int[] idx = Arrays.copyOfRange(order, cursor, Math.min(cursor + batchSize, n));
            cursor += batchSize;
            double stepLoss;
            double stepTargets;
            try (MemoryWorkspace ws = StepWorkspace.open(WORKSPACE)) {
                Gradients g = network.lossAndGradients(data.batch(idx), target);
                GradientClipping.clipGlobalNorm(g.grads().values(), config.maxGradNorm());
                optimiser.step(params, g.grads());
                stepLoss = g.loss();
                stepTargets = g.targetTokens();
            }
            for (int i : idx) {
                tokens += data.examples().get(i).tokens().length;
            }
            lossSum += stepLoss * stepTargets;
            targetSum += stepTargets;
            double seconds = (System.nanoTime() - startNanos) / 1e9;
            listener.onStep(step, totalSteps, stepLoss, tokens / Math.max(seconds, 1e-9));
        }
        double seconds = (System.nanoTime() - startNanos) / 1e9;
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("train_loss", lossSum / targetSum);
        metrics.put("train_seconds", seconds);
        metrics.put("tokens", (double) tokens);
        metrics.put("tokens_per_second", tokens / Math.max(seconds, 1e-9));
        return new TrainingResult(factors, n, metrics);
    }

    private void checkLengths(JsonlDataset data) {
        int limit = base.spec().maxPositions() + 1;
        List<Example> examples = data.examples();
        for (int i = 0; i < examples.size(); i++) {
            if (examples.get(i).tokens().length > limit) {
                throw new IllegalArgumentException(data.source() + ": example " + (i + 1) + " has " + examples.get(i).tokens().length
                        + " tokens; the model takes at most " + limit + " (lower maxSeqLen)");
            }
        }
    }

    /** A seeded Fisher–Yates permutation of 0..n-1. */
    static int[] shuffled(int n, SplittableRandom rng) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int tmp = a[i];
            a[i] = a[j];
            a[j] = tmp;
        }
        return a;
    }
}
