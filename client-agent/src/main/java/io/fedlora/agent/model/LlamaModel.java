package io.fedlora.agent.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fedlora.agent.model.ops.Parallel;
import io.fedlora.aggregation.family.Checkpoint;
import io.fedlora.aggregation.family.LlamaFamily;
import io.fedlora.aggregation.family.ModelFamilies;
import io.fedlora.aggregation.family.ModelSpec;
import io.fedlora.aggregation.family.UnsupportedModelException;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The frozen weights of a Llama-layout causal LM (Llama, Mistral, Qwen2) in HF naming
 * ({@code model.embed_tokens.weight}, {@code model.layers.0.self_attn.q_proj.weight}, …, {@code model.norm.weight},
 * {@code lm_head.weight} when untied). Mutable like {@link Gpt2Model}: the agent folds residuals in place.
 */
public final class LlamaModel implements CausalLm {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final LlamaFamily.Spec spec;
    private final Map<String, INDArray> weights;

    /** @param weights every weight of the spec, shapes checked */
    public LlamaModel(LlamaFamily.Spec spec, Map<String, INDArray> weights) {
        this.spec = spec;
        this.weights = new LinkedHashMap<>();
        Map<String, long[]> expected = spec.weightShapes();
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
                throw new IllegalArgumentException("unexpected weight '" + k + "' for this " + spec.modelType() + " model");
            }
        }
    }

    @Override
    public LlamaFamily.Spec spec() {
        return spec;
    }

    @Override
    public Map<String, INDArray> weights() {
        return weights;
    }

    @Override
    public DataType dataType() {
        return weights.get("model.embed_tokens.weight").dataType();
    }

    @Override
    public LlamaModel castTo(DataType type) {
        Map<String, INDArray> copy = new LinkedHashMap<>();
        weights.forEach((k, v) -> copy.put(k, v.castTo(type).dup()));
        return new LlamaModel(spec, copy);
    }

    /** The LM head {@code [vocab, hidden]}: the embedding when tied. */
    public INDArray head() {
        return weight(spec.tiedEmbeddings() ? "model.embed_tokens.weight" : "lm_head.weight");
    }

    @Override
    public LmNetwork network(Map<String, LoraFactors> adapters, double loraScale) {
        return new LlamaNetwork(this, adapters, loraScale);
    }

    @Override
    public LmNetwork network(Map<String, LoraFactors> adapters, double loraScale, Parallel par, boolean checkpointing) {
        return new LlamaNetwork(this, adapters, loraScale, par, checkpointing);
    }

    /** Loads {@code config.json} and the weights (single file or shards) of a Llama, Mistral or Qwen2 directory. */
    public static LlamaModel load(Path dir) {
        if (!Checkpoint.present(dir)) {
            throw new IllegalArgumentException("not an HF model directory (needs " + Checkpoint.SINGLE_FILE + " or "
                    + Checkpoint.INDEX_FILE + "): " + dir);
        }
        ModelSpec s = ModelFamilies.read(dir);
        if (!(s instanceof LlamaFamily.Spec spec)) {
            throw new UnsupportedModelException("model_type", dir + " holds a " + s.modelType() + " model, not a Llama-layout one");
        }
        return new LlamaModel(spec, CheckpointLoader.load(dir, spec));
    }

    @Override
    public void save(Path dir) {
        try {
            Files.createDirectories(dir);
            writeConfig(spec, dir.resolve(ModelFamilies.CONFIG_FILE));
            Map<String, INDArray> out = new LinkedHashMap<>();
            weights.forEach((k, v) -> out.put(k, v.castTo(DataType.FLOAT)));
            SafetensorsWriter.write(dir.resolve(Checkpoint.SINGLE_FILE), out, Map.of("format", "pt"), DType.F32);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write model directory " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Writes an HF {@code config.json} that {@code transformers} loads as the spec's {@code *ForCausalLM}. */
    public static void writeConfig(LlamaFamily.Spec s, Path file) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        String arch = switch (s.modelType()) {
            case "qwen2" -> "Qwen2ForCausalLM";
            case "mistral" -> "MistralForCausalLM";
            default -> "LlamaForCausalLM";
        };
        root.putArray("architectures").add(arch);
        root.put("model_type", s.modelType());
        root.put("hidden_size", s.hiddenSize());
        root.put("intermediate_size", s.intermediateSize());
        root.put("num_hidden_layers", s.numLayers());
        root.put("num_attention_heads", s.numHeads());
        root.put("num_key_value_heads", s.numKeyValueHeads());
        root.put("head_dim", s.headDim());
        root.put("hidden_act", "silu");
        root.put("max_position_embeddings", s.maxPositions());
        root.put("rms_norm_eps", s.rmsNormEps());
        root.put("rope_theta", s.ropeTheta());
        root.putNull("rope_scaling");
        root.put("tie_word_embeddings", s.tiedEmbeddings());
        if (s.modelType().equals("llama")) {
            root.put("attention_bias", s.qkvBias());
            root.put("mlp_bias", false);
        }
        root.put("attention_dropout", 0.0);
        root.put("initializer_range", 0.02);
        root.put("vocab_size", s.vocabSize());
        root.put("torch_dtype", "float32");
        Files.writeString(file, JSON.writeValueAsString(root) + "\n");
    }

    /** Fresh weights: normal(0, 0.02) matrices, norms at one, biases zero; deterministic from the seed. */
    public static LlamaModel initialise(LlamaFamily.Spec spec, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        double projStd = 0.02 / Math.sqrt(2.0 * spec.numLayers());
        Map<String, INDArray> w = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : spec.weightShapes().entrySet()) {
            String k = e.getKey();
            long[] shape = e.getValue();
            int n = (int) Arrays.stream(shape).reduce(1, (a, b) -> a * b);
            float[] data = new float[n];
            if (k.endsWith("norm.weight")) {
                Arrays.fill(data, 1f);
            } else if (k.endsWith(".weight")) {
                double std = k.endsWith("o_proj.weight") || k.endsWith("down_proj.weight") ? projStd : 0.02;
                for (int i = 0; i < n; i++) {
                    double u1 = rng.nextDouble();
                    double u2 = rng.nextDouble();
                    data[i] = (float) (Math.sqrt(-2 * StrictMath.log(1 - u1)) * StrictMath.cos(2 * Math.PI * u2) * std);
                }
            }
            w.put(k, Nd4j.create(data, shape, 'c'));
        }
        return new LlamaModel(spec, w);
    }
}
