package io.fedlora.agent.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fedlora.aggregation.family.ModelFamilies;

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

    /**
     * {@code vocab.json} + {@code merges.txt}, else {@code tokenizer.json} (its {@code model.vocab}/{@code model.merges}
     * and added tokens), else a {@link ByteTokenizer} sized by {@code config.json}'s vocab_size.
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
                return fromTokenizerJson(tokenizerJson);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the tokenizer of " + dir + ": " + e.getMessage(), e);
        }
        return new ByteTokenizer(ModelFamilies.read(dir).vocabSize());
    }

    static Gpt2BpeTokenizer fromTokenizerJson(Path file) throws IOException {
        JsonNode root = JSON.readTree(file.toFile());
        JsonNode model = root.path("model");
        if (!model.path("type").asText("BPE").equals("BPE")) {
            throw new IllegalArgumentException(file + ": tokenizer model type " + model.path("type").asText() + " is not BPE");
        }
        Map<String, Integer> vocab = readVocab(model.path("vocab"), file);
        for (JsonNode added : root.path("added_tokens")) {
            vocab.put(added.path("content").asText(), added.path("id").asInt());
        }
        List<String> merges = new ArrayList<>();
        for (JsonNode m : model.path("merges")) {
            if (m.isArray() && m.size() == 2) {
                merges.add(m.get(0).asText() + " " + m.get(1).asText());
            } else if (m.isTextual()) {
                merges.add(m.asText());
            } else {
                throw new IllegalArgumentException(file + ": unreadable merge rule " + m);
            }
        }
        return new Gpt2BpeTokenizer(vocab, merges);
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
