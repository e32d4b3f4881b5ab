package io.fedlora.agent.model;

import io.fedlora.aggregation.family.Gpt2Family;
import io.fedlora.aggregation.family.ModelFamilies;
import io.fedlora.aggregation.family.ModelSpec;
import io.fedlora.aggregation.family.UnsupportedModelException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Shape of a GPT-2 layout causal LM, read from and written to an HF {@code config.json}. Only the fields
 * the forward pass needs are kept; fields that would change it are refused on read (see {@link Gpt2Family}), the
 * others are written with GPT-2 defaults so that {@code transformers} loads the directory as a {@code GPT2LMHeadModel}.
 */
public record Gpt2Config(int nLayer, int nHead, int nEmbd, int nPositions, int vocabSize, double layerNormEpsilon,
                         boolean tiedEmbeddings) {

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

    /** A GPT-2 whose LM head is tied to the token embedding (the GPT-2 default). */
    public Gpt2Config(int nLayer, int nHead, int nEmbd, int nPositions, int vocabSize, double layerNormEpsilon) {
        this(nLayer, nHead, nEmbd, nPositions, vocabSize, layerNormEpsilon, true);
    }

    /** Width of each attention head. */
    public int headDim() {
        return nEmbd / nHead;
    }

    /** Width of the MLP's hidden layer (GPT-2: 4 · n_embd). */
    public int nInner() {
        return 4 * nEmbd;
    }

    /** The shared family description of this config. */
    public Gpt2Family.Spec spec() {
        return new Gpt2Family.Spec(nLayer, nHead, nEmbd, nPositions, vocabSize, layerNormEpsilon, tiedEmbeddings);
    }

    public static Gpt2Config of(Gpt2Family.Spec s) {
        return new Gpt2Config(s.nLayer(), s.nHead(), s.nEmbd(), s.nPositions(), s.vocabSize(), s.layerNormEpsilon(),
                s.tiedEmbeddings());
    }

    /**
     * Reads and validates an HF GPT-2 {@code config.json} with the shared {@link Gpt2Family} rules (the coordinator
     * applies the same ones): options that change the forward pass fail with
     * {@link io.fedlora.aggregation.family.UnsupportedModelException} naming the field.
     */
    public static Gpt2Config read(Path configJson) {
        ModelSpec spec = ModelFamilies.readFile(configJson);
        if (!(spec instanceof Gpt2Family.Spec g)) {
            throw new UnsupportedModelException("model_type", configJson + " describes a " + spec.modelType()
                    + " model, not GPT-2");
        }
        return of(g);
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
        root.put("tie_word_embeddings", tiedEmbeddings);
        root.put("bos_token_id", vocabSize - 1);
        root.put("eos_token_id", vocabSize - 1);
        try {
            Files.writeString(configJson, JSON.writeValueAsString(root) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write model config " + configJson + ": " + e.getMessage(), e);
        }
    }

    private static String describe(int l, int h, int e, int p, int v) {
        return "n_layer=" + l + " n_head=" + h + " n_embd=" + e + " n_positions=" + p + " vocab_size=" + v;
    }
}
