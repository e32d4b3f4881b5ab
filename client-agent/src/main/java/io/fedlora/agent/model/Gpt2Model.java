package io.fedlora.agent.model;

import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
import io.fedlora.aggregation.safetensors.TensorInfo;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The frozen weights of a GPT-2 layout causal LM in HF naming ({@code wte.weight}, {@code h.0.attn.c_attn.weight}, …,
 * {@code ln_f.bias}); the LM head is tied to {@code wte}. The weight map is deliberately mutable: the agent folds
 * FedEx-LoRA residuals into the base weights in place between rounds.
 */
public final class Gpt2Model {

    /** File names of an HF model directory. */
    public static final String CONFIG_FILE = "config.json";
    public static final String WEIGHTS_FILE = "model.safetensors";

    private static final Logger log = LoggerFactory.getLogger(Gpt2Model.class);
    private static final String HF_PREFIX = "transformer.";

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

    /** All weights by HF key (mutable arrays; folding residuals in place is intended). */
    public Map<String, INDArray> weights() {
        return weights;
    }

    /** One weight by HF key, failing with the key's name when it is absent. */
    public INDArray weight(String key) {
        INDArray w = weights.get(key);
        if (w == null) {
            throw new IllegalArgumentException("no weight '" + key + "'");
        }
        return w;
    }

    /** The element type the weights are held in (fp32 normally; fp64 for gradient checks). */
    public DataType dataType() {
        return weights.get("wte.weight").dataType();
    }

    /** A deep copy in the given element type. */
    public Gpt2Model castTo(DataType type) {
        Map<String, INDArray> copy = new LinkedHashMap<>();
        weights.forEach((k, v) -> copy.put(k, v.castTo(type).dup()));
        return new Gpt2Model(config, copy);
    }

    /** Expected weight shapes of the GPT-2 layout for a config, in HF order. */
    public static Map<String, long[]> expectedShapes(Gpt2Config c) {
        long e = c.nEmbd();
        Map<String, long[]> m = new LinkedHashMap<>();
        m.put("wte.weight", new long[]{c.vocabSize(), e});
        m.put("wpe.weight", new long[]{c.nPositions(), e});
        for (int i = 0; i < c.nLayer(); i++) {
            String p = "h." + i + ".";
            m.put(p + "ln_1.weight", new long[]{e});
            m.put(p + "ln_1.bias", new long[]{e});
            m.put(p + "attn.c_attn.weight", new long[]{e, 3 * e});
            m.put(p + "attn.c_attn.bias", new long[]{3 * e});
            m.put(p + "attn.c_proj.weight", new long[]{e, e});
            m.put(p + "attn.c_proj.bias", new long[]{e});
            m.put(p + "ln_2.weight", new long[]{e});
            m.put(p + "ln_2.bias", new long[]{e});
            m.put(p + "mlp.c_fc.weight", new long[]{e, c.nInner()});
            m.put(p + "mlp.c_fc.bias", new long[]{c.nInner()});
            m.put(p + "mlp.c_proj.weight", new long[]{c.nInner(), e});
            m.put(p + "mlp.c_proj.bias", new long[]{e});
        }
        m.put("ln_f.weight", new long[]{e});
        m.put("ln_f.bias", new long[]{e});
        return m;
    }

    /**
     * Loads {@code config.json} and {@code model.safetensors} from an HF model directory. A leading
     * {@code transformer.} is stripped; the attention-mask buffers ({@code attn.bias}, {@code attn.masked_bias}) and a
     * tied {@code lm_head.weight} are skipped. Any float dtype is converted to fp32.
     */
    public static Gpt2Model load(Path hfModelDir) {
        Path configFile = hfModelDir.resolve(CONFIG_FILE);
        Path weightsFile = hfModelDir.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(configFile) || !Files.isRegularFile(weightsFile)) {
            throw new IllegalArgumentException("not an HF model directory (needs " + CONFIG_FILE + " and " + WEIGHTS_FILE + "): " + hfModelDir);
        }
        Gpt2Config config = Gpt2Config.read(configFile);
        Map<String, long[]> expected = expectedShapes(config);
        Map<String, INDArray> weights = new LinkedHashMap<>();
        List<String> ignored = new ArrayList<>();
        try (SafetensorsReader reader = SafetensorsReader.open(weightsFile)) {
            for (TensorInfo info : reader.tensors().values()) {
                String key = info.name().startsWith(HF_PREFIX) ? info.name().substring(HF_PREFIX.length()) : info.name();
                if (key.endsWith(".attn.bias") || key.endsWith(".attn.masked_bias") || key.equals("lm_head.weight")) {
                    ignored.add(info.name());
                    continue;
                }
                if (!expected.containsKey(key)) {
                    throw new IllegalArgumentException(weightsFile + ": tensor '" + info.name() + "' is not part of the GPT-2 layout");
                }
                weights.put(key, reader.readFloat(info.name()).castTo(DataType.FLOAT));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + weightsFile + ": " + e.getMessage(), e);
        }
        if (!ignored.isEmpty()) {
            log.debug("{}: ignored buffers/tied weights {}", weightsFile, ignored);
        }
        try {
            return new Gpt2Model(config, weights);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(weightsFile + ": " + e.getMessage(), e);
        }
    }

    /** Writes {@code config.json} and an fp32 {@code model.safetensors} (keys without prefix, as HF loads them). */
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
