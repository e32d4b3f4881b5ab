package io.fedlora.agent.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fedlora.agent.initmodel.InitModel;
import io.fedlora.agent.model.CausalLm;
import io.fedlora.agent.model.CausalLms;
import io.fedlora.agent.model.DataParallelNetwork;
import io.fedlora.agent.model.Gpt2Config;
import io.fedlora.agent.model.Gpt2Model;
import io.fedlora.agent.model.GradientTarget;
import io.fedlora.agent.model.Gradients;
import io.fedlora.agent.model.LmNetwork;
import io.fedlora.agent.model.LoraTargets;
import io.fedlora.agent.model.StepWorkspace;
import io.fedlora.agent.model.TokenBatch;
import io.fedlora.agent.model.ops.Blas;
import io.fedlora.agent.model.ops.Parallel;
import io.fedlora.agent.model.ops.Tensors;
import io.fedlora.agent.train.AdamW;
import io.fedlora.agent.train.BackendInfo;
import io.fedlora.agent.train.GradientClipping;
import io.fedlora.aggregation.family.AdaptableModule;
import io.fedlora.aggregation.family.Gpt2Family;
import io.fedlora.aggregation.family.LlamaFamily;
import io.fedlora.aggregation.family.ModelSpec;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraInit;
import io.fedlora.aggregation.lora.LoraLayer;
import io.fedlora.aggregation.lora.LoraScaling;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * {@code ./fedlora bench train}: throughput and memory of one LoRA training step (forward, backward, global-norm
 * clipping, AdamW, exactly the trainer's step) and of the forward pass alone, on a model directory of any family the
 * agent trains (GPT-2, Llama, Mistral, Qwen2) or a built-in GPT-2 shape with random weights (speed does not depend on their values), on fixed-length batches of random tokens
 * where every position is a target (the PyTorch side-by-side script, {@code bench/torch_side_by_side.py}, runs the
 * same workload). Besides tokens/s it reports the process's peak RSS per phase and the achieved FLOP/s as a fraction
 * of a plain sgemm of the step's dominant GEMM shape measured in the same run.
 */
public final class TrainBenchmark {

    /** Built-in model shapes (random weights, nothing downloaded). */
    public enum Shape {
        /** What {@code init-model} writes: 2 layers, 64 wide, byte vocabulary. */
        INIT_MODEL,
        /** GPT-2 small: 12 layers, 768 wide, 12 heads, 1024 positions, 50257 tokens. */
        GPT2_SMALL;

        public Gpt2Config config() {
            return this == INIT_MODEL ? InitModel.Settings.defaults().config() : new Gpt2Config(12, 12, 768, 1024, 50257, 1e-5);
        }

        public static Shape parse(String s) {
            return switch (s) {
                case "init-model" -> INIT_MODEL;
                case "gpt2-small" -> GPT2_SMALL;
                default -> throw new IllegalArgumentException("unknown shape '" + s + "' (init-model or gpt2-small)");
            };
        }
    }

    /**
     * @param modelDir HF model directory, or null for {@code shape}
     * @param targets  LoRA target modules; empty for the family's defaults
     * @param warmup   untimed steps before each timed phase, at least (negative: {@link #defaultWarmup} by the step's
     *                 FLOPs)
     * @param warmupSeconds untimed seconds before each timed phase, at least: warm-up goes on until both minima are
     *                 reached (0: steps only)
     */
    public record Settings(Path modelDir, Shape shape, int batch, int seq, List<String> targets, int rank, int steps,
                           int warmup, double warmupSeconds, boolean gradientCheckpointing, long seed) {
        public Settings {
            targets = List.copyOf(targets);
            if (batch < 1 || seq < 1 || rank < 1 || steps < 1) {
                throw new IllegalArgumentException("batch, seq, rank and steps must be positive");
            }
            if (!(warmupSeconds >= 0)) {
                throw new IllegalArgumentException("warm-up seconds must be 0 or more");
            }
        }
    }

    /** The untimed steps run before one timed phase and how long they took. */
    public record Warmup(int steps, double seconds) {
    }

    /** Throughput and memory of one phase. */
    public record Phase(long tokens, double seconds, double tokensPerSecond, double msPerStep, long peakHeapBytes,
                        long peakRssBytes) {
    }

    /** The model's dimensions, whatever its family. */
    public record Dims(String family, int layers, int heads, int kvHeads, int width, int headDim, int positions, int vocab) {

        static Dims of(ModelSpec spec) {
            if (spec instanceof Gpt2Family.Spec g) {
                return new Dims(g.family(), g.nLayer(), g.nHead(), g.nHead(), g.nEmbd(), g.nEmbd() / g.nHead(), g.nPositions(),
                        g.vocabSize());
            }
            if (spec instanceof LlamaFamily.Spec l) {
                return new Dims(l.modelType(), l.numLayers(), l.numHeads(), l.numKeyValueHeads(), l.hiddenSize(), l.headDim(),
                        l.maxPositions(), l.vocabSize());
            }
            throw new IllegalArgumentException("bench train does not know the dimensions of a " + spec.family() + " model");
        }
    }

    /** The benchmark's figures. */
    public record Result(BackendInfo backend, int threads, Dims config, Settings settings, int warmup, Warmup trainWarmup,
                         Warmup forwardWarmup, Phase train, Phase forward,
                         double trainFlopsPerStep, String gemmShape, double sgemmFlops, long peakRssBytes) {

        public double trainFlops() {
            return trainFlopsPerStep / (train.msPerStep() / 1000);
        }

        /** One JSON object. */
        public String toJson() {
            ObjectMapper json = new ObjectMapper();
            ObjectNode root = json.createObjectNode();
            root.put("benchmark", "lora-train");
            root.put("backend", backend.backend());
            root.put("device", backend.device());
            root.put("blas", backend.blasVendor());
            root.put("cores", backend.cores());
            root.put("threads", threads);
            ObjectNode model = root.putObject("model");
            model.put("source", settings.modelDir() == null ? settings.shape().name().toLowerCase().replace('_', '-')
                    : settings.modelDir().toString());
            model.put("family", config.family());
            model.put("n_layer", config.layers());
            model.put("n_head", config.heads());
            model.put("n_kv_head", config.kvHeads());
            model.put("n_embd", config.width());
            model.put("n_positions", config.positions());
            model.put("vocab_size", config.vocab());
            ObjectNode lora = root.putObject("lora");
            lora.putPOJO("target_modules", settings.targets());
            lora.put("rank", settings.rank());
            root.put("batch", settings.batch());
            root.put("seq", settings.seq());
            root.put("steps", settings.steps());
            root.put("warmup", warmup);
            root.put("warmup_seconds", settings.warmupSeconds());
            ObjectNode warmed = root.putObject("warmup_run");
            warmed.put("train_steps", trainWarmup.steps());
            warmed.put("train_seconds", trainWarmup.seconds());
            warmed.put("forward_steps", forwardWarmup.steps());
            warmed.put("forward_seconds", forwardWarmup.seconds());
            root.put("gradient_checkpointing", settings.gradientCheckpointing());
            phase(root.putObject("train"), train);
            phase(root.putObject("forward"), forward);
            root.put("train_step_over_forward", train.msPerStep() / forward.msPerStep());
            root.put("peak_rss_bytes", peakRssBytes);
            ObjectNode flops = root.putObject("flops");
            flops.put("train_flops_per_step", trainFlopsPerStep);
            flops.put("train_flops_per_second", trainFlops());
            flops.put("sgemm_shape", gemmShape);
            flops.put("sgemm_flops_per_second", sgemmFlops);
            flops.put("fraction_of_sgemm", trainFlops() / sgemmFlops);
            return root.toString();
        }

        private static void phase(ObjectNode n, Phase p) {
            n.put("tokens", p.tokens());
            n.put("seconds", p.seconds());
            n.put("tokens_per_second", p.tokensPerSecond());
            n.put("ms_per_step", p.msPerStep());
            n.put("peak_heap_bytes", p.peakHeapBytes());
            n.put("peak_rss_bytes", p.peakRssBytes());
        }
    }

    private static final double LEARNING_RATE = 1e-3;
    private static final double ALPHA = 16;
    private static final double MAX_GRAD_NORM = 1.0;

    private final Settings s;

    public TrainBenchmark(Settings settings) {
        this.s = settings;
    }

    public Result run() {
        BackendInfo backend = BackendInfo.current();
        CausalLm model = s.modelDir() != null ? CausalLms.load(s.modelDir()) : Gpt2Model.initialise(s.shape().config(), s.seed());
        ModelSpec spec = model.spec();
        Dims dims = Dims.of(spec);
        if (s.seq() > dims.positions()) {
            throw new IllegalArgumentException("--seq " + s.seq() + " exceeds the model's " + dims.positions() + " positions");
        }
        List<String> targets = s.targets().isEmpty() ? spec.defaultTargets() : s.targets();
        Settings used = new Settings(s.modelDir(), s.shape(), s.batch(), s.seq(), targets, s.rank(), s.steps(), s.warmup(),
                s.warmupSeconds(), s.gradientCheckpointing(), s.seed());
        List<LoraLayer> layers = LoraTargets.resolve(spec, targets, s.rank(), new LoraScaling(ALPHA, s.rank(), false));
        Map<String, LoraFactors> factors = new LinkedHashMap<>();
        Map<String, INDArray> params = new LinkedHashMap<>();
        for (LoraLayer layer : layers) {
            LoraFactors init = LoraInit.init(layer, s.seed());
            LoraFactors f = new LoraFactors(init.a().castTo(model.dataType()).dup('c'), init.b().castTo(model.dataType()).dup('c'));
            factors.put(layer.module(), f);
            params.put(layer.module() + ".lora_A", f.a());
            params.put(layer.module() + ".lora_B", f.b());
        }
        Parallel par = Parallel.matchingBlas();
        LmNetwork network = DataParallelNetwork.of(model, factors, ALPHA / s.rank(), par, s.gradientCheckpointing());
        AdamW optimiser = new AdamW(LEARNING_RATE, 0.0);
        SplittableRandom rng = new SplittableRandom(s.seed());
        List<TokenBatch> batches = new ArrayList<>();
        for (int i = 0; i < Math.min(s.steps(), 8); i++) {
            batches.add(randomBatch(rng, dims.vocab()));
        }
        long tokensPerStep = (long) s.batch() * s.seq();
        double flopsPerStep = trainFlopsPerStep(spec, dims, layers);
        int warmup = s.warmup() >= 0 ? s.warmup() : defaultWarmup(flopsPerStep);

        Warmup trainWarmup = warmUp(warmup, i -> trainStep(network, optimiser, params, batches.get(i % batches.size())));
        resetPeaks();
        long t0 = System.nanoTime();
        for (int i = 0; i < s.steps(); i++) {
            trainStep(network, optimiser, params, batches.get(i % batches.size()));
        }
        double trainSeconds = (System.nanoTime() - t0) / 1e9;
        Phase train = phase(tokensPerStep * s.steps(), trainSeconds);

        Warmup forwardWarmup = warmUp(warmup, i -> forwardStep(network, batches.get(i % batches.size())));
        resetPeaks();
        long t1 = System.nanoTime();
        for (int i = 0; i < s.steps(); i++) {
            forwardStep(network, batches.get(i % batches.size()));
        }
        double fwdSeconds = (System.nanoTime() - t1) / 1e9;
        Phase forward = phase(tokensPerStep * s.steps(), fwdSeconds);
        long peakRss = Math.max(train.peakRssBytes(), forward.peakRssBytes());

        long n = tokensPerStep;
        long c = dims.width();
        long lmHead = n * c * dims.vocab();
        // the block's largest projection (GPT-2's c_fc, Llama's gate/up), first in model order
        AdaptableModule largest = null;
        for (AdaptableModule m : spec.adaptableModules()) {
            if (largest == null || (long) m.dIn() * m.dOut() > (long) largest.dIn() * largest.dOut()) {
                largest = m;
            }
        }
        long proj = n * largest.dIn() * largest.dOut();
        String shape;
        long k;
        long nn;
        // the GEMM shape with the most FLOPs per step: the LM head (forward + dx) or the largest projection's two
        // (forward + dx, per layer)
        if (2 * lmHead >= 4L * dims.layers() * proj) {
            k = c;
            nn = dims.vocab();
        } else {
            k = largest.dIn();
            nn = largest.dOut();
        }
        shape = n + "x" + k + " · " + k + "x" + nn;
        double sgemm = sgemmFlops(model.dataType(), n, k, nn);
        return new Result(backend, Blas.threads(), dims, used, warmup, trainWarmup, forwardWarmup, train, forward,
                flopsPerStep, shape, sgemm, peakRss);
    }

    /**
     * Runs untimed steps until at least {@code minSteps} have run and at least the settings' warm-up seconds have
     * passed. The seconds are what the JIT needs: on 2 cores with both busy, the kernels' hot loops reach their final
     * compiled form only after several seconds (init-model at 2 threads: 65k tokens/s after 20 warm-up steps, 112k
     * after 1,500, about 8 s; 1 thread settles sooner), which a step count fixed per workload cannot know.
     */
    private Warmup warmUp(int minSteps, java.util.function.IntConsumer step) {
        long t0 = System.nanoTime();
        long minNanos = (long) (s.warmupSeconds() * 1e9);
        int i = 0;
        while (i < minSteps || System.nanoTime() - t0 < minNanos) {
            step.accept(i++);
        }
        return new Warmup(i, (System.nanoTime() - t0) / 1e9);
    }

    /** Matmul FLOPs of warm-up per phase by default: about 1-4 s of this machine's single-core rate. */
    static final double WARMUP_FLOPS = 1e11;

    /**
     * The default number of untimed warm-up steps per phase: enough steps for {@link #WARMUP_FLOPS} of work (the JIT
     * compiles the kernels' loops and the buffers are touched within the first steps of a large model, after many
     * steps of a small one), at least 2 and at most 20. It depends on the workload only, not on the machine's speed,
     * so runs of a workload are comparable; {@code bench/torch_side_by_side.py} uses the same rule.
     */
    static int defaultWarmup(double trainFlopsPerStep) {
        return (int) Math.max(2, Math.min(20, Math.ceil(WARMUP_FLOPS / Math.max(1, trainFlopsPerStep))));
    }

    private TokenBatch randomBatch(SplittableRandom rng, int vocab) {
        List<int[]> seqs = new ArrayList<>();
        List<Integer> first = new ArrayList<>();
        for (int b = 0; b < s.batch(); b++) {
            int[] ids = new int[s.seq() + 1];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = rng.nextInt(vocab);
            }
            seqs.add(ids);
            first.add(1);
        }
        return TokenBatch.of(seqs, first);
    }

    private static void trainStep(LmNetwork network, AdamW optimiser, Map<String, INDArray> params, TokenBatch batch) {
        try (MemoryWorkspace ws = StepWorkspace.open("fedlora-bench-train")) {
            Gradients g = network.lossAndGradients(batch, GradientTarget.LORA);
            GradientClipping.clipGlobalNorm(g.grads().values(), MAX_GRAD_NORM);
            optimiser.step(params, g.grads());
        }
    }

    private static void forwardStep(LmNetwork network, TokenBatch batch) {
        try (MemoryWorkspace ws = StepWorkspace.open("fedlora-bench-forward")) {
            network.loss(batch);
        }
    }

    /**
     * Matmul FLOPs of a LoRA step: the forward's GEMMs (every projection of a block) and causal attention (half the
     * score matrix), then the same again for the activation gradients above the lowest adapted layer and the LM
     * head's, plus the adapters' own products (small). The convention PyTorch-side FLOP counts use for frozen-weight
     * fine-tuning.
     */
    private double trainFlopsPerStep(ModelSpec spec, Dims dims, List<LoraLayer> layers) {
        double n = (double) s.batch() * s.seq();
        double projections = 0;
        for (AdaptableModule m : spec.adaptableModules()) {
            if (m.layer() == 0) {
                projections += 2 * n * m.dIn() * m.dOut();
            }
        }
        double perLayer = projections + 2 * 2 * s.batch() * dims.heads() * (double) s.seq() * s.seq() / 2 * dims.headDim();
        double head = 2 * n * dims.width() * dims.vocab();
        int lowest = layers.stream().mapToInt(l -> spec.layerOf(l.module())).min().orElse(0);
        double fwd = perLayer * dims.layers() + head;
        double bwd = perLayer * (dims.layers() - lowest) + head;
        double lora = 0;
        for (LoraLayer l : layers) {
            lora += 3 * 2 * n * l.rank() * (l.dIn() + l.dOut());
        }
        return fwd + bwd + lora;
    }

    /** FLOP/s of a plain GEMM of the given shape through the same OpenBLAS, repeated for at least 0.3 s. */
    private static double sgemmFlops(org.nd4j.linalg.api.buffer.DataType type, long m, long k, long n) {
        INDArray a = Tensors.zeros(type, m, k).addi(0.5);
        INDArray b = Tensors.zeros(type, k, n).addi(0.25);
        INDArray out = Tensors.empty(type, m, n);
        Blas.gemm(a, false, b, false, 1.0, 0.0, out);
        int reps = 0;
        long t0 = System.nanoTime();
        do {
            Blas.gemm(a, false, b, false, 1.0, 0.0, out);
            reps++;
        } while (System.nanoTime() - t0 < 300_000_000L);
        double seconds = (System.nanoTime() - t0) / 1e9;
        return 2.0 * m * n * k * reps / seconds;
    }

    private Phase phase(long tokens, double seconds) {
        return new Phase(tokens, seconds, tokens / seconds, 1000 * seconds / s.steps(), peakHeap(), peakRss());
    }

    private static void resetPeaks() {
        System.gc();
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                pool.resetPeakUsage();
            }
        }
        try {
            // "5" resets the kernel's peak-RSS mark (VmHWM) to the current RSS, so each phase reports its own peak
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            // not Linux or not permitted: the peak then covers the whole run so far
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

    /** VmHWM of /proc/self/status in bytes (-1 where there is no procfs). */
    static long peakRss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
