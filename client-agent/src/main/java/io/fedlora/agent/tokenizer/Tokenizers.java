package io.fedlora.agent.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fedlora.aggregation.family.ModelFamilies;
import io.fedlora.aggregation.family.ModelSpec;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Picks the tokenizer of an HF model directory: GPT-2 BPE when its files are there, else byte-level. */
public final class Tokenizers {

    private static final ObjectMapper JSON = new ObjectMapper();

    private Tokenizers() {
    }

    /** Runs {@code use} with the directory's tokenizer and closes it (it may hold a native handle). */
    public static <T> T with(Path dir, java.util.function.Function<Tokenizer, T> use) {
        try (Tokenizer t = forModelDir(dir)) {
            return use.apply(t);
        }
    }

    /**
     * {@code vocab.json} + {@code merges.txt} (GPT-2's files, pure Java), else {@code tokenizer.json} through HF's
     * tokenizers library ({@link HfJsonTokenizer}: every kind HF defines), else a {@link ByteTokenizer} sized by
     * {@code config.json}'s vocab_size.
     */
    public static Tokenizer forModelDir(Path dir) {
        Path vocab = dir.resolve("vocab.json");
        Path merges = dir.resolve("merges.txt");
        Path tokenizerJson = dir.resolve("tokenizer.json");
        try {
            if (Files.isRegularFile(vocab) && Files.isRegularFile(merges)) {
                return new Gpt2BpeTokenizer(readVocab(JSON.readTree(vocab.toFile()), vocab), readMergesTxt(merges));
            }
            if (Files.isRegularFile(tokenizerJson)) {
                int vocabSize = 0;
                int eos = -1;
                if (Files.isRegularFile(dir.resolve(ModelFamilies.CONFIG_FILE))) {
                    ModelSpec spec = ModelFamilies.read(dir);
                    vocabSize = spec.vocabSize();
                    JsonNode e = JSON.readTree(dir.resolve(ModelFamilies.CONFIG_FILE).toFile()).get("eos_token_id");
                    eos = e == null || e.isNull() ? -1 : e.isArray() ? e.path(0).asInt(-1) : e.asInt(-1);
                }
                return HfJsonTokenizer.open(tokenizerJson, vocabSize, eos);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the tokenizer of " + dir + ": " + e.getMessage(), e);
        }
        return new ByteTokenizer(ModelFamilies.read(dir).vocabSize());
    }

    private static Map<String, Integer> readVocab(JsonNode node, Path file) {
        if (!node.isObject() || node.isEmpty()) {
            throw new IllegalArgumentException(file + ": no vocabulary object");
        }
        Map<String, Integer> vocab = new LinkedHashMap<>();
        node.fields().forEachRemaining(e -> vocab.put(e.getKey(), e.getValue().asInt()));
        return vocab;
    }

    private static List<String> readMergesTxt(Path merges) throws IOException {
        List<String> rules = new ArrayList<>();
        for (String line : Files.readAllLines(merges, StandardCharsets.UTF_8)) {
            if (line.startsWith("#version") || line.isBlank()) {
                continue;
            }
            rules.add(line);
        }
        return rules;
    }
}
