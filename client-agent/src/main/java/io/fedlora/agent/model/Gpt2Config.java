package io.fedlora.agent.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Shape of a GPT-2 layout causal LM, read from and written to an HF {@code config.json}. Only the fields
 * the forward pass needs are kept; other HF fields are ignored on read and written with GPT-2 defaults so
 * that {@code transformers} loads the directory as a {@code GPT2LMHeadModel}.
 */
public record Gpt2Config(int nLayer, int nHead, int nEmbd, int nPositions, int vocabSize, double layerNormEpsilon) {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public Gpt2Config {
        if (nLayer <= 0 || nHead <= 0 || nEmbd <= 0 || nPositions <= 0 || vocabSize <= 0) {
            throw new IllegalArgumentException("GPT-2 config sizes must be positive: " + describe(nLayer, nHead, nEmbd, nPositions, vocabSize));
        }
        if (nEmbd % nHead != 0) {
            throw new IllegalArgumentException("n_embd " + nEmbd + " is not divisible by n_head " + nHead);
        }
        if (!(layerNormEpsilon > 0)) {
            throw new IllegalArgumentException("layer_norm_epsilon must be positive, got " + layerNormEpsilon);
        }
    }

    /** Width of each attention head. */
    public int headDim() {
        return nEmbd / nHead;
    }

    /** Width of the MLP's hidden layer (GPT-2: 4 · n_embd). */
    public int nInner() {
        return 4 * nEmbd;
    }

    /** Reads an HF GPT-2 {@code config.json}; {@code n_ctx} stands in for a missing {@code n_positions}. */
    public static Gpt2Config read(Path configJson) {
        JsonNode root;
        try {
            root = JSON.readTree(configJson.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read model config " + configJson + ": " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(configJson + ": not a JSON object");
        }
        JsonNode inner = root.get("n_inner");
        int nEmbd = required(root, "n_embd", configJson);
        if (inner != null && !inner.isNull() && inner.asInt() != 4 * nEmbd) {
            throw new IllegalArgumentException(configJson + ": n_inner " + inner.asInt() + " is not supported (only 4 * n_embd)");
        }
        int nPositions = root.has("n_positions") ? root.get("n_positions").asInt() : required(root, "n_ctx", configJson);
        double eps = root.has("layer_norm_epsilon") ? root.get("layer_norm_epsilon").asDouble() : 1e-5;
        return new Gpt2Config(required(root, "n_layer", configJson), required(root, "n_head", configJson), nEmbd,
                nPositions, required(root, "vocab_size", configJson), eps);
    }

    /** Writes an HF-compatible {@code config.json}. */
    public void write(Path configJson) {
        ObjectNode root = JSON.createObjectNode();
        root.putArray("architectures").add("GPT2LMHeadModel");
        root.put("model_type", "gpt2");
        root.put("activation_function", "gelu_new");
        root.put("n_layer", nLayer);
        root.put("n_head", nHead);
        root.put("n_embd", nEmbd);
        root.put("n_positions", nPositions);
        root.put("n_ctx", nPositions);
        root.put("vocab_size", vocabSize);
        root.put("layer_norm_epsilon", layerNormEpsilon);
        root.putNull("n_inner");
        root.put("resid_pdrop", 0.0);
        root.put("embd_pdrop", 0.0);
        root.put("attn_pdrop", 0.0);
        root.put("initializer_range", 0.02);
        root.put("scale_attn_weights", true);
        root.put("tie_word_embeddings", true);
        root.put("bos_token_id", vocabSize - 1);
        root.put("eos_token_id", vocabSize - 1);
        try {
            Files.writeString(configJson, JSON.writeValueAsString(root) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write model config " + configJson + ": " + e.getMessage(), e);
        }
    }

    private static int required(JsonNode root, String field, Path file) {
        JsonNode n = root.get(field);
        if (n == null || !n.canConvertToInt()) {
            throw new IllegalArgumentException(file + ": missing or non-integer field '" + field + "'");
        }
        return n.asInt();
    }

    private static String describe(int l, int h, int e, int p, int v) {
        return "n_layer=" + l + " n_head=" + h + " n_embd=" + e + " n_positions=" + p + " vocab_size=" + v;
    }
}
