package io.fedlora.agent.model;

import io.fedlora.agent.model.ops.Parallel;
import io.fedlora.aggregation.family.Checkpoint;
import io.fedlora.aggregation.family.ModelSpec;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The frozen weights of a GPT-2 layout causal LM in HF naming ({@code wte.weight}, {@code h.0.attn.c_attn.weight}, …,
 * {@code ln_f.bias}); the LM head is {@code wte} when tied, else its own {@code lm_head.weight}. The weight map is deliberately mutable: the agent folds
 * FedEx-LoRA residuals into the base weights in place between rounds.
 */
public final class Gpt2Model implements CausalLm {

    /** File names of an HF model directory. */
    public static final String CONFIG_FILE = "config.json";
    public static final String WEIGHTS_FILE = "model.safetensors";


    private final Gpt2Config config;
    private final Map<String, INDArray> weights;

    /**
     * @param weights every weight of the layout, keyed by HF name without {@code transformer.}; shapes are checked
     */
    public Gpt2Model(Gpt2Config config, Map<String, INDArray> weights) {
        this.config = config;
        this.weights = new LinkedHashMap<>();
        Map<String, long[]> expected = expectedShapes(config);
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            INDArray w = weights.get(e.getKey());
            if (w == null) {
                throw new IllegalArgumentException("model weights lack '" + e.getKey() + "'");
            }
            if (!Arrays.equals(w.shape(), e.getValue())) {
                throw new IllegalArgumentException("weight '" + e.getKey() + "' has shape " + Arrays.toString(w.shape())
                        + ", the config needs " + Arrays.toString(e.getValue()));
            }
            this.weights.put(e.getKey(), w);
        }
        for (String k : weights.keySet()) {
            if (!expected.containsKey(k)) {
                throw new IllegalArgumentException("unexpected weight '" + k + "' for a GPT-2 layout model");
            }
        }
    }

    public Gpt2Config config() {
        return config;
    }

    @Override
    public ModelSpec spec() {
        return config.spec();
    }

    /** The LM head: the token embedding when tied, else {@code lm_head.weight} ({@code [vocab, n_embd]} either way). */
    public INDArray head() {
        return weight(config.tiedEmbeddings() ? "wte.weight" : "lm_head.weight");
    }

    @Override
    public LmNetwork network(Map<String, LoraFactors> adapters, double loraScale) {
        return new Gpt2Network(this, adapters, loraScale);
    }

    @Override
    public LmNetwork network(Map<String, LoraFactors> adapters, double loraScale, Parallel par, boolean checkpointing) {
        return new Gpt2Network(this, adapters, loraScale, par, checkpointing);
    }

    /** All weights by HF key (mutable arrays; folding residuals in place is intended). */
    @Override
    public Map<String, INDArray> weights() {
        return weights;
    }

    /** One weight by HF key, failing with the key's name when it is absent. */
    @Override
    public INDArray weight(String key) {
        INDArray w = weights.get(key);
        if (w == null) {
            throw new IllegalArgumentException("no weight '" + key + "'");
        }
        return w;
    }

    /** The element type the weights are held in (fp32 normally; fp64 for gradient checks). */
    @Override
    public DataType dataType() {
        return weights.get("wte.weight").dataType();
    }

    /** A deep copy in the given element type. */
    @Override
    public Gpt2Model castTo(DataType type) {
        Map<String, INDArray> copy = new LinkedHashMap<>();
        weights.forEach((k, v) -> copy.put(k, v.castTo(type).dup()));
        return new Gpt2Model(config, copy);
    }

    /** Expected weight shapes of the GPT-2 layout for a config, in HF order (with {@code lm_head.weight} when untied). */
    public static Map<String, long[]> expectedShapes(Gpt2Config c) {
        return c.spec().weightShapes();
    }

    /**
     * Loads {@code config.json} and the weights ({@code model.safetensors}, or shards with
     * {@code model.safetensors.index.json}) from an HF model directory. A leading {@code transformer.} is stripped;
     * the attention-mask buffers and a tied {@code lm_head.weight} are skipped; an untied head is loaded. Any float
     * dtype is converted to fp32. The config is validated with the shared {@link io.fedlora.aggregation.family.Gpt2Family}
     * rules.
     */
    public static Gpt2Model load(Path hfModelDir) {
        Path configFile = hfModelDir.resolve(CONFIG_FILE);
        if (!Files.isRegularFile(configFile) || !Checkpoint.present(hfModelDir)) {
            throw new IllegalArgumentException("not an HF model directory (needs " + CONFIG_FILE + " and " + WEIGHTS_FILE
                    + " or " + Checkpoint.INDEX_FILE + "): " + hfModelDir);
        }
        Gpt2Config config = Gpt2Config.read(configFile);
        return new Gpt2Model(config, CheckpointLoader.load(hfModelDir, config.spec()));
    }

    /** Writes {@code config.json} and an fp32 {@code model.safetensors} (keys without prefix, as HF loads them). */
    @Override
    public void save(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create model directory " + dir + ": " + e.getMessage(), e);
        }
        config.write(dir.resolve(CONFIG_FILE));
        Map<String, INDArray> out = new LinkedHashMap<>();
        weights.forEach((k, v) -> out.put(k, v.castTo(DataType.FLOAT)));
        try {
            SafetensorsWriter.write(dir.resolve(WEIGHTS_FILE), out, Map.of("format", "pt"), DType.F32);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir.resolve(WEIGHTS_FILE) + ": " + e.getMessage(), e);
        }
    }

    /**
     * A freshly initialised model with GPT-2's scheme (normal(0, 0.02), residual projections scaled by
     * 1/sqrt(2·n_layer), layer norms at identity), deterministic from the seed on every platform.
     */
    public static Gpt2Model initialise(Gpt2Config config, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        double projStd = 0.02 / Math.sqrt(2.0 * config.nLayer());
        Map<String, INDArray> w = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : expectedShapes(config).entrySet()) {
            String k = e.getKey();
            long[] shape = e.getValue();
            int n = (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
            float[] data = new float[n];
            if (k.contains("ln_") && k.endsWith(".weight")) {
                Arrays.fill(data, 1f);
            } else if (k.endsWith(".weight")) {
                double std = k.endsWith("c_proj.weight") ? projStd : 0.02;
                for (int i = 0; i < n; i++) {
                    data[i] = (float) (gaussian(rng) * std);
                }
            }
            w.put(k, Nd4j.create(data, shape, 'c'));
        }
        return new Gpt2Model(config, w);
    }

    private static double gaussian(SplittableRandom rng) {
        double u1 = rng.nextDouble();
        double u2 = rng.nextDouble();
        return Math.sqrt(-2 * StrictMath.log(1 - u1)) * StrictMath.cos(2 * Math.PI * u2);
    }
}
