package io.fedlora.agent.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fedlora.agent.data.JsonlDataset;
import io.fedlora.agent.initmodel.InitModel;
import io.fedlora.agent.initmodel.SyntheticTasks;
import io.fedlora.agent.model.Gpt2Config;
import io.fedlora.agent.model.Gpt2Model;
import io.fedlora.agent.model.Gpt2Network;
import io.fedlora.agent.model.StepWorkspace;
import io.fedlora.agent.model.TokenBatch;
import io.fedlora.agent.tokenizer.ByteTokenizer;
import io.fedlora.agent.tokenizer.Tokenizer;
import io.fedlora.agent.train.BackendInfo;
import io.fedlora.agent.train.LoraTrainer;
import io.fedlora.agent.train.TrainingConfig;
import io.fedlora.agent.train.TrainingListener;
import io.fedlora.agent.train.TrainingResult;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.memory.MemoryWorkspace;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * {@code ./fedlora bench train}: throughput of LoRA training (forward + backward + AdamW update) and of the forward
 * pass alone, on the model shape {@code init-model} writes (weights freshly initialised: speed does not depend on
 * their values) and its task data, with the JVM's peak heap per phase. Tokens are real tokens, padding excluded.
 */
public final class TrainBenchmark {

    /** Throughput and memory of one phase. */
    public record Phase(long tokens, double seconds, double tokensPerSecond, double msPerStep, long peakHeapBytes,
                        long nativeBytes) {
    }

    /** The benchmark's figures. */
    public record Result(BackendInfo backend, Gpt2Config config, TrainingConfig training, int steps, Phase train,
                         Phase forward) {

        /** One JSON object (the CLI's last stdout line). */
        public String toJson() {
            ObjectMapper json = new ObjectMapper();
            ObjectNode root = json.createObjectNode();
            root.put("benchmark", "lora-train");
            root.put("backend", backend.backend());
            root.put("device", backend.device());
            root.put("blas", backend.blasVendor());
            root.put("cores", backend.cores());
            root.put("threads", backend.ompThreads());
            ObjectNode model = root.putObject("model");
            model.put("n_layer", config.nLayer());
            model.put("n_head", config.nHead());
            model.put("n_embd", config.nEmbd());
            model.put("n_positions", config.nPositions());
            model.put("vocab_size", config.vocabSize());
            ObjectNode lora = root.putObject("lora");
            lora.putPOJO("target_modules", training.targetModules());
            lora.put("rank", training.rank());
            lora.put("batch_size", training.batchSize());
            root.put("steps", steps);
            phase(root.putObject("train"), train);
            phase(root.putObject("forward"), forward);
            root.put("train_step_over_forward", trainStepOverForward());
            return root.toString();
        }

        /**
         * The baseline in the same run: a LoRA step needs the forward pass plus activation gradients through every
         * layer above the lowest adapter (about one more forward's matmuls) and no frozen-weight gradients, so
         * about 2 forward passes is the floor; more is overhead of the backward and optimiser code.
         */
        public double trainStepOverForward() {
            return train.msPerStep() / forward.msPerStep();
        }

        private static void phase(ObjectNode n, Phase p) {
            n.put("tokens", p.tokens());
            n.put("seconds", p.seconds());
            n.put("tokens_per_second", p.tokensPerSecond());
            n.put("ms_per_step", p.msPerStep());
            n.put("peak_heap_bytes", p.peakHeapBytes());
            n.put("native_bytes", p.nativeBytes());
        }
    }

    /** Untimed steps before each timed phase; fewer left the first timed steps in the interpreter. */
    static final int WARMUP_STEPS = 20;

    private final int steps;
    private final int batchSize;
    private final long seed;

    public TrainBenchmark(int steps, int batchSize, long seed) {
        if (steps < 1 || batchSize < 1) {
            throw new IllegalArgumentException("steps and batch size must be positive");
        }
        this.steps = steps;
        this.batchSize = batchSize;
        this.seed = seed;
    }

    public Result run() {
        BackendInfo backend = BackendInfo.current();
        Gpt2Config config = InitModel.Settings.defaults().config();
        Gpt2Model model = Gpt2Model.initialise(config, seed);
        Tokenizer tokenizer = new ByteTokenizer(config.vocabSize());
        JsonlDataset data = InitModel.asCompletions("benchmark tasks", SyntheticTasks.mixed(Math.max(batchSize * steps, 64), new SplittableRandom(seed)), tokenizer);
        TrainingConfig base = TrainingConfig.defaults();
        TrainingConfig warm = withSteps(base, WARMUP_STEPS); // until the JIT has compiled the hot loops
        TrainingConfig timed = withSteps(base, steps);

        new LoraTrainer(model, warm).train(Map.of(), data, TrainingListener.none());
        resetPeaks();
        long t0 = System.nanoTime();
        TrainingResult result = new LoraTrainer(model, timed).train(Map.of(), data, TrainingListener.none());
        double trainSeconds = (System.nanoTime() - t0) / 1e9;
        long tokens = result.metrics().get("tokens").longValue();
        Phase train = new Phase(tokens, trainSeconds, tokens / trainSeconds, 1000 * trainSeconds / steps, peakHeap(),
                Pointer.totalBytes());

        Gpt2Network network = new Gpt2Network(model, result.factors(), base.scaling().scale());
        List<TokenBatch> batches = new ArrayList<>();
        long fwdTokens = 0;
        for (int s = 0; s < steps; s++) {
            int[] idx = new int[Math.min(base.batchSize(), data.size())];
            for (int i = 0; i < idx.length; i++) {
                idx[i] = (s * idx.length + i) % data.size();
                fwdTokens += data.examples().get(idx[i]).tokens().length;
            }
            batches.add(data.batch(idx));
        }
        for (int s = 0; s < WARMUP_STEPS; s++) {
            try (MemoryWorkspace ws = StepWorkspace.open("fedlora-bench-forward")) {
                network.loss(batches.get(s % batches.size()));
            }
        }
        resetPeaks();
        long t1 = System.nanoTime();
        for (TokenBatch b : batches) {
            try (MemoryWorkspace ws = StepWorkspace.open("fedlora-bench-forward")) {
                network.loss(b);
            }
        }
        double fwdSeconds = (System.nanoTime() - t1) / 1e9;
        Phase forward = new Phase(fwdTokens, fwdSeconds, fwdTokens / fwdSeconds, 1000 * fwdSeconds / steps, peakHeap(),
                Pointer.totalBytes());
        return new Result(backend, config, timed, steps, train, forward);
    }

    private TrainingConfig withSteps(TrainingConfig c, int localSteps) {
        return new TrainingConfig(c.targetModules(), c.rank(), c.alpha(), c.rslora(), c.freezeA(), c.localEpochs(), localSteps,
                batchSize, c.learningRate(), c.weightDecay(), c.maxGradNorm(), seed, c.maxSeqLen());
    }

    private static void resetPeaks() {
        System.gc();
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                pool.resetPeakUsage();
            }
        }
    }

    private static long peakHeap() {
        long sum = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
                sum += pool.getPeakUsage().getUsed();
            }
        }
        return sum;
    }
}
