package io.fedlora.aggregation.family;

import com.fasterxml.jackson.databind.JsonNode;
import io.fedlora.aggregation.lora.WeightLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * HF GPT-2 ({@code model_type: gpt2}): learned positions, pre-LN blocks, fused {@code c_attn}, {@code gelu_new} MLP,
 * {@code Conv1D} weights stored {@code d_in x d_out}. Only the configuration {@code GPT2LMHeadModel} computes with
 * default settings is accepted: every option that changes the forward pass is refused naming its field.
 */
public final class Gpt2Family {

    public static final String NAME = "gpt2";
    /** Body of {@code GPT2LMHeadModel}: optional in checkpoints, always present in PEFT keys. */
    public static final String BODY_PREFIX = "transformer.";
    static final List<String> BLOCK_MODULES = List.of("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj");

    private Gpt2Family() {
    }

    /** A validated GPT-2 config. */
    public record Spec(int nLayer, int nHead, int nEmbd, int nPositions, int vocabSize, double layerNormEpsilon,
                       boolean tiedEmbeddings) implements ModelSpec {

        public Spec {
            if (nEmbd % nHead != 0) {
                throw new UnsupportedModelException("n_head", "n_embd " + nEmbd + " is not divisible by n_head " + nHead);
            }
        }

        public int nInner() {
            return 4 * nEmbd;
        }

        @Override
        public String family() {
            return NAME;
        }

        @Override
        public String modelType() {
            return NAME;
        }

        @Override
        public int numLayers() {
            return nLayer;
        }

        @Override
        public int maxPositions() {
            return nPositions;
        }

        @Override
        public Map<String, long[]> weightShapes() {
            long e = nEmbd;
            Map<String, long[]> m = new LinkedHashMap<>();
            m.put("wte.weight", new long[]{vocabSize, e});
            m.put("wpe.weight", new long[]{nPositions, e});
            for (int i = 0; i < nLayer; i++) {
                String p = "h." + i + ".";
                m.put(p + "ln_1.weight", new long[]{e});
                m.put(p + "ln_1.bias", new long[]{e});
                m.put(p + "attn.c_attn.weight", new long[]{e, 3 * e});
                m.put(p + "attn.c_attn.bias", new long[]{3 * e});
                m.put(p + "attn.c_proj.weight", new long[]{e, e});
                m.put(p + "attn.c_proj.bias", new long[]{e});
                m.put(p + "ln_2.weight", new long[]{e});
                m.put(p + "ln_2.bias", new long[]{e});
                m.put(p + "mlp.c_fc.weight", new long[]{e, nInner()});
                m.put(p + "mlp.c_fc.bias", new long[]{nInner()});
                m.put(p + "mlp.c_proj.weight", new long[]{nInner(), e});
                m.put(p + "mlp.c_proj.bias", new long[]{e});
            }
            m.put("ln_f.weight", new long[]{e});
            m.put("ln_f.bias", new long[]{e});
            if (!tiedEmbeddings) {
                m.put("lm_head.weight", new long[]{vocabSize, e});
            }
            return m;
        }

        @Override
        public String optionalKeyPrefix() {
            return BODY_PREFIX;
        }

        @Override
        public boolean isIgnoredTensor(String key) {
            // causal-mask buffers of old checkpoints; a tied head saved anyway is the embedding again
            return key.endsWith(".attn.bias") || key.endsWith(".attn.masked_bias")
                    || (tiedEmbeddings && key.equals("lm_head.weight"));
        }

        @Override
        public List<AdaptableModule> adaptableModules() {
            List<AdaptableModule> out = new ArrayList<>();
            for (int i = 0; i < nLayer; i++) {
                for (String rel : BLOCK_MODULES) {
                    int dIn = rel.equals("mlp.c_proj") ? nInner() : nEmbd;
                    int dOut = switch (rel) {
                        case "attn.c_attn" -> 3 * nEmbd;
                        case "mlp.c_fc" -> nInner();
                        default -> nEmbd;
                    };
                    out.add(new AdaptableModule("h." + i + "." + rel, i, dOut, dIn, WeightLayout.CONV1D));
                }
            }
            return out;
        }

        @Override
        public List<String> defaultTargets() {
            return List.of("c_attn");
        }

        @Override
        public List<String> targetNames() {
            return List.of("c_attn", "c_proj (attn.c_proj, mlp.c_proj)", "c_fc");
        }

        @Override
        public String peftModulePrefix() {
            return BODY_PREFIX;
        }

        @Override
        public int layerOf(String module) {
            return BlockIndex.after(module, "h.");
        }
    }

    /** Validates a GPT-2 {@code config.json}; {@code n_ctx} stands in for a missing {@code n_positions}. */
    public static Spec parse(JsonNode root) {
        ConfigFields f = new ConfigFields(root);
        int nEmbd = f.positiveInt("n_embd");
        if (f.present("n_inner") && f.positiveInt("n_inner") != 4 * nEmbd) {
            throw new UnsupportedModelException("n_inner", "only null or 4 * n_embd (" + 4 * nEmbd + ") is supported, got "
                    + f.node("n_inner"));
        }
        String act = f.text("activation_function", "gelu_new");
        if (!act.equals("gelu_new")) {
            throw new UnsupportedModelException("activation_function", "only gelu_new is supported, got " + act);
        }
        f.requireBool("scale_attn_weights", true, true, "attention scores are divided by sqrt(head_dim)");
        f.requireBool("scale_attn_by_inverse_layer_idx", false, false, "per-layer attention scaling is not implemented");
        f.requireBool("reorder_and_upcast_attn", false, false, "the reordered attention kernel is not implemented");
        f.requireBool("add_cross_attention", false, false, "cross-attention is not implemented");
        int nPositions = f.present("n_positions") ? f.positiveInt("n_positions") : f.positiveInt("n_ctx");
        double eps = f.positiveDouble("layer_norm_epsilon", 1e-5);
        return new Spec(f.positiveInt("n_layer"), f.positiveInt("n_head"), nEmbd, nPositions, f.positiveInt("vocab_size"),
                eps, f.bool("tie_word_embeddings", true));
    }
}
