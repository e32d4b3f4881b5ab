package io.fedlora.agent.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A tokenizer from an HF {@code tokenizer.json}, run by HF's own {@code tokenizers} library (Rust, through DJL's
 * binding, whose natives ship inside its jar): byte-level BPE with the model's pre-tokenizer (GPT-2, Llama 3, Qwen2),
 * SentencePiece-style BPE with {@code ▁} and byte fallback (Llama 2, Mistral, TinyLlama), normalizers, added and
 * special tokens, exactly as {@code transformers} encodes. Nothing is downloaded: DJL runs with {@code ai.djl.offline}.
 * Texts are encoded without the post-processor's special tokens (fedlora's data format places EOS itself); no
 * truncation or padding. Holds a native handle: close it.
 */
public final class HfJsonTokenizer implements Tokenizer {

    /** Names end-of-sequence tokens go by, when neither config.json nor tokenizer_config.json says. */
    private static final List<String> EOS_NAMES = List.of("<|endoftext|>", "</s>", "<|end_of_text|>", "<|im_end|>", "<|eot_id|>");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HuggingFaceTokenizer tokenizer;
    private final int eosId;
    private final int vocabSize;

    private HfJsonTokenizer(HuggingFaceTokenizer tokenizer, int eosId, int vocabSize) {
        this.tokenizer = tokenizer;
        this.eosId = eosId;
        this.vocabSize = vocabSize;
    }

    /**
     * @param tokenizerJson  the {@code tokenizer.json}
     * @param modelVocabSize the model's embedding rows (config.json {@code vocab_size}), or 0 to use the tokenizer's
     * @param eosHint        config.json's {@code eos_token_id}, or -1
     */
    public static HfJsonTokenizer open(Path tokenizerJson, int modelVocabSize, int eosHint) {
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        Map<String, Integer> added = new HashMap<>();
        int maxId;
        try {
            JsonNode root = JSON.readTree(tokenizerJson.toFile());
            maxId = -1;
            for (JsonNode t : root.path("added_tokens")) {
                added.put(t.path("content").asText(), t.path("id").asInt());
                maxId = Math.max(maxId, t.path("id").asInt());
            }
            for (JsonNode id : (Iterable<JsonNode>) () -> root.path("model").path("vocab").elements()) {
                maxId = Math.max(maxId, id.asInt());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + tokenizerJson + ": " + e.getMessage(), e);
        }
        int eos = eosHint >= 0 ? eosHint : eosFromTokenizerConfig(tokenizerJson.resolveSibling("tokenizer_config.json"), added);
        if (eos < 0) {
            eos = EOS_NAMES.stream().filter(added::containsKey).map(added::get).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException(tokenizerJson + ": no end-of-sequence token (give config.json"
                            + " eos_token_id, tokenizer_config.json eos_token, or add one of " + EOS_NAMES + ")"));
        }
        int vocab = modelVocabSize > 0 ? modelVocabSize : maxId + 1;
        if (maxId >= vocab) {
            throw new IllegalArgumentException(tokenizerJson + ": token id " + maxId + " does not fit the model's vocab_size " + vocab);
        }
        try {
            HuggingFaceTokenizer t = HuggingFaceTokenizer.builder().optTokenizerPath(tokenizerJson).optAddSpecialTokens(false)
                    .optTruncation(false).optPadding(false).build();
            return new HfJsonTokenizer(t, eos, vocab);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(tokenizerJson + ": not a tokenizer.json HF tokenizers can load: " + e.getMessage(), e);
        }
    }

    private static int eosFromTokenizerConfig(Path file, Map<String, Integer> added) {
        if (!Files.isRegularFile(file)) {
            return -1;
        }
        try {
            JsonNode eos = JSON.readTree(file.toFile()).get("eos_token");
            String name = eos == null ? null : eos.isTextual() ? eos.asText() : eos.path("content").asText(null);
            return name != null && added.containsKey(name) ? added.get(name) : -1;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    @Override
    public int[] encode(String text) {
        return toInts(tokenizer.encode(text, false, false).getIds());
    }

    /** With the post-processor's special tokens (e.g. Llama's BOS), as {@code tokenizer(text)} gives by default. */
    public int[] encodeWithSpecialTokens(String text) {
        return toInts(tokenizer.encode(text, true, false).getIds());
    }

    @Override
    public String decode(int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocabSize) {
                throw new IllegalArgumentException("token id " + ids[i] + " outside the vocabulary of " + vocabSize);
            }
            l[i] = ids[i];
        }
        return tokenizer.decode(l, false);
    }

    @Override
    public int eosId() {
        return eosId;
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public void close() {
        tokenizer.close();
    }

    private static int[] toInts(long[] ids) {
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }
}
