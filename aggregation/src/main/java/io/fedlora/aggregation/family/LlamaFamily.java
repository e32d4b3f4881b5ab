package io.fedlora.aggregation.family;

import com.fasterxml.jackson.databind.JsonNode;
import io.fedlora.aggregation.lora.WeightLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Llama-layout causal LMs ({@code model_type} {@code llama}, {@code mistral}, {@code qwen2}): RMSNorm, rotary position
 * embeddings, SwiGLU MLP, grouped-query attention, {@code nn.Linear} weights stored {@code d_out x d_in}. Qwen2 adds
 * biases to q/k/v; Llama's {@code attention_bias} adds them to q/k/v/o. Options the agents do not implement (scaled
 * RoPE, MLP biases, a sliding window shorter than the sequence) are refused naming their field.
 */
public final class LlamaFamily {

    public static final String NAME = "llama";
    public static final Set<String> MODEL_TYPES = Set.of("llama", "mistral", "qwen2");
    static final List<String> ATTENTION = List.of("q_proj", "k_proj", "v_proj", "o_proj");
    static final List<String> MLP = List.of("gate_proj", "up_proj", "down_proj");

    private LlamaFamily() {
    }

    /** A validated Llama-layout config. */
    public record Spec(String modelType, int hiddenSize, int intermediateSize, int numLayers, int numHeads,
                       int numKeyValueHeads, int headDim, int vocabSize, int maxPositions, double rmsNormEps,
                       double ropeTheta, boolean tiedEmbeddings, boolean qkvBias, boolean oBias) implements ModelSpec {

        public Spec {
            if (numHeads % numKeyValueHeads != 0) {
                throw new UnsupportedModelException("num_key_value_heads", "num_attention_heads " + numHeads
                        + " is not a multiple of num_key_value_heads " + numKeyValueHeads);
            }
            if (headDim % 2 != 0) {
                throw new UnsupportedModelException("head_dim", "rotary embeddings need an even head_dim, got " + headDim);
            }
        }

        /** Query heads sharing one key/value head. */
        public int groupSize() {
            return numHeads / numKeyValueHeads;
        }

        @Override
        public String family() {
            return NAME;
        }

        @Override
        public Map<String, long[]> weightShapes() {
            long h = hiddenSize;
            long q = (long) numHeads * headDim;
            long kv = (long) numKeyValueHeads * headDim;
            Map<String, long[]> m = new LinkedHashMap<>();
            m.put("model.embed_tokens.weight", new long[]{vocabSize, h});
            for (int i = 0; i < numLayers; i++) {
                String p = "model.layers." + i + ".";
                m.put(p + "input_layernorm.weight", new long[]{h});
                m.put(p + "self_attn.q_proj.weight", new long[]{q, h});
                if (qkvBias) {
                    m.put(p + "self_attn.q_proj.bias", new long[]{q});
                }
                m.put(p + "self_attn.k_proj.weight", new long[]{kv, h});
                if (qkvBias) {
                    m.put(p + "self_attn.k_proj.bias", new long[]{kv});
                }
                m.put(p + "self_attn.v_proj.weight", new long[]{kv, h});
                if (qkvBias) {
                    m.put(p + "self_attn.v_proj.bias", new long[]{kv});
                }
                m.put(p + "self_attn.o_proj.weight", new long[]{h, q});
                if (oBias) {
                    m.put(p + "self_attn.o_proj.bias", new long[]{h});
                }
                m.put(p + "post_attention_layernorm.weight", new long[]{h});
                m.put(p + "mlp.gate_proj.weight", new long[]{intermediateSize, h});
                m.put(p + "mlp.up_proj.weight", new long[]{intermediateSize, h});
                m.put(p + "mlp.down_proj.weight", new long[]{h, intermediateSize});
            }
            m.put("model.norm.weight", new long[]{h});
            if (!tiedEmbeddings) {
                m.put("lm_head.weight", new long[]{vocabSize, h});
            }
            return m;
        }

        @Override
        public String optionalKeyPrefix() {
            return "";
        }

        @Override
        public boolean isIgnoredTensor(String key) {
            return key.endsWith(".rotary_emb.inv_freq") || (tiedEmbeddings && key.equals("lm_head.weight"));
        }

        @Override
        public List<AdaptableModule> adaptableModules() {
            int q = numHeads * headDim;
            int kv = numKeyValueHeads * headDim;
            List<AdaptableModule> out = new ArrayList<>();
            for (int i = 0; i < numLayers; i++) {
                String p = "model.layers." + i + ".";
                out.add(new AdaptableModule(p + "self_attn.q_proj", i, q, hiddenSize, WeightLayout.LINEAR));
                out.add(new AdaptableModule(p + "self_attn.k_proj", i, kv, hiddenSize, WeightLayout.LINEAR));
                out.add(new AdaptableModule(p + "self_attn.v_proj", i, kv, hiddenSize, WeightLayout.LINEAR));
                out.add(new AdaptableModule(p + "self_attn.o_proj", i, hiddenSize, q, WeightLayout.LINEAR));
                out.add(new AdaptableModule(p + "mlp.gate_proj", i, intermediateSize, hiddenSize, WeightLayout.LINEAR));
                out.add(new AdaptableModule(p + "mlp.up_proj", i, intermediateSize, hiddenSize, WeightLayout.LINEAR));
                out.add(new AdaptableModule(p + "mlp.down_proj", i, hiddenSize, intermediateSize, WeightLayout.LINEAR));
            }
            return out;
        }

        @Override
        public List<String> defaultTargets() {
            return List.of("q_proj", "v_proj");
        }

        @Override
        public List<String> targetNames() {
            List<String> all = new ArrayList<>(ATTENTION);
            all.addAll(MLP);
            return all;
        }

        @Override
        public String peftModulePrefix() {
            return "";
        }

        @Override
        public int layerOf(String module) {
            return BlockIndex.after(module, "model.layers.");
        }
    }

    /** Validates a Llama, Mistral or Qwen2 {@code config.json}. */
    public static Spec parse(String modelType, JsonNode root) {
        ConfigFields f = new ConfigFields(root);
        String act = f.text("hidden_act", "silu");
        if (!act.equals("silu")) {
            throw new UnsupportedModelException("hidden_act", "only silu (SwiGLU) is supported, got " + act);
        }
        int hidden = f.positiveInt("hidden_size");
        int heads = f.positiveInt("num_attention_heads");
        int kvHeads = f.positiveInt("num_key_value_heads", heads);
        int headDim = f.positiveInt("head_dim", hidden / heads);
        if (!f.present("head_dim") && hidden % heads != 0) {
            throw new UnsupportedModelException("num_attention_heads", "hidden_size " + hidden + " is not divisible by it");
        }
        double theta = ropeTheta(f);
        double partial = f.positiveDouble("partial_rotary_factor", 1.0);
        if (partial != 1.0) {
            throw new UnsupportedModelException("partial_rotary_factor", "only 1.0 is supported, got " + partial);
        }
        boolean qkvBias;
        boolean oBias;
        int maxPositions = f.positiveInt("max_position_embeddings");
        switch (modelType) {
            case "qwen2" -> {
                qkvBias = true;
                oBias = false;
                f.requireBool("use_sliding_window", false, false, "sliding-window attention is not implemented");
            }
            case "mistral" -> {
                qkvBias = false;
                oBias = false;
                if (f.present("sliding_window")) {
                    // exact for every sequence that fits in the window: the agents refuse longer ones
                    maxPositions = Math.min(maxPositions, f.positiveInt("sliding_window"));
                }
            }
            default -> {
                qkvBias = f.bool("attention_bias", false);
                oBias = qkvBias;
                f.requireBool("mlp_bias", false, false, "MLP biases are not implemented");
            }
        }
        return new Spec(modelType, hidden, f.positiveInt("intermediate_size"), f.positiveInt("num_hidden_layers"), heads,
                kvHeads, headDim, f.positiveInt("vocab_size"), maxPositions, f.positiveDouble("rms_norm_eps", 1e-6), theta,
                f.bool("tie_word_embeddings", false), qkvBias, oBias);
    }

    /**
     * {@code rope_theta}, from the top level (transformers 4) or {@code rope_parameters} (transformers 5); any RoPE
     * type but {@code default} (linear, dynamic, yarn, llama3 scaling) is refused.
     */
    private static double ropeTheta(ConfigFields f) {
        double theta = f.positiveDouble("rope_theta", 10000.0);
        for (String field : List.of("rope_scaling", "rope_parameters")) {
            JsonNode n = f.node(field);
            if (n == null || n.isNull()) {
                continue;
            }
            if (!n.isObject()) {
                throw new UnsupportedModelException(field, "must be an object or null, got " + n);
            }
            String type = n.path("rope_type").asText(n.path("type").asText("default"));
            if (!type.equals("default")) {
                throw new UnsupportedModelException(field, "RoPE type '" + type + "' is not supported (only default)");
            }
            if (n.has("rope_theta")) {
                JsonNode t = n.get("rope_theta");
                if (!t.isNumber() || !(t.asDouble() > 0)) {
                    throw new UnsupportedModelException(field + ".rope_theta", "must be a positive number, got " + t);
                }
                theta = t.asDouble();
            }
            if (n.has("partial_rotary_factor") && n.get("partial_rotary_factor").asDouble() != 1.0) {
                throw new UnsupportedModelException(field + ".partial_rotary_factor", "only 1.0 is supported");
            }
        }
        return theta;
    }
}
