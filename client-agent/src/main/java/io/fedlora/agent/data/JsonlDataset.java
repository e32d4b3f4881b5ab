package io.fedlora.agent.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fedlora.agent.model.TokenBatch;
import io.fedlora.agent.tokenizer.Tokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A local JSONL dataset, tokenised. Each line is {@code {"prompt": ..., "completion": ...}} (the loss covers the
 * completion and a closing EOS only) or {@code {"text": ...}} (the loss covers every token after the first, plus EOS).
 * Sequences longer than {@code maxSeqLen} tokens are cut at the end; an example left with nothing to predict is
 * dropped with a warning. Lines that are not usable are reported with file and line number and skipped or fatal per
 * {@link BadLinePolicy}; blank lines are ignored.
 */
public final class JsonlDataset {

    private static final Logger log = LoggerFactory.getLogger(JsonlDataset.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String source;
    private final List<Example> examples;
    private final List<BadLine> badLines;
    private final int truncated;

    private JsonlDataset(String source, List<Example> examples, List<BadLine> badLines, int truncated) {
        this.source = source;
        this.examples = List.copyOf(examples);
        this.badLines = List.copyOf(badLines);
        this.truncated = truncated;
    }

    /** An in-memory dataset of already tokenised examples. */
    public static JsonlDataset of(String source, List<Example> examples) {
        return new JsonlDataset(source, examples, List.of(), 0);
    }

    /** Reads and tokenises a JSONL file. */
    public static JsonlDataset read(Path jsonl, Tokenizer tokenizer, int maxSeqLen, BadLinePolicy policy) {
        if (maxSeqLen < 2) {
            throw new IllegalArgumentException("maxSeqLen must be at least 2, got " + maxSeqLen);
        }
        List<Example> examples = new ArrayList<>();
        List<BadLine> bad = new ArrayList<>();
        int truncated = 0;
        try (BufferedReader reader = Files.newBufferedReader(jsonl, StandardCharsets.UTF_8)) {
            String line;
            long number = 0;
            while ((line = reader.readLine()) != null) {
                number++;
                if (line.isBlank()) {
                    continue;
                }
                Example ex;
                try {
                    ex = parse(line, tokenizer, maxSeqLen);
                } catch (IllegalArgumentException e) {
                    if (policy == BadLinePolicy.FAIL) {
                        throw new DatasetFormatException(jsonl, number, e.getMessage());
                    }
                    log.warn("{}:{}: skipped: {}", jsonl, number, e.getMessage());
                    bad.add(new BadLine(number, e.getMessage()));
                    continue;
                }
                if (ex == null) {
                    log.warn("{}:{}: dropped: nothing left to predict after truncation to {} tokens", jsonl, number, maxSeqLen);
                    truncated++;
                    continue;
                }
                examples.add(ex);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read dataset " + jsonl + ": " + e.getMessage(), e);
        }
        if (!bad.isEmpty()) {
            log.warn("{}: {} bad line(s) skipped, {} example(s) read", jsonl, bad.size(), examples.size());
        }
        return new JsonlDataset(jsonl.toString(), examples, bad, truncated);
    }

    /**
     * Tokenises one line; {@code null} when truncation leaves nothing to predict.
     *
     * @throws IllegalArgumentException with the reason when the line is not a usable example
     */
    private static Example parse(String line, Tokenizer tokenizer, int maxSeqLen) {
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("invalid JSON: " + e.getOriginalMessage());
        }
        if (node == null || !node.isObject()) {
            throw new IllegalArgumentException("expected a JSON object with \"prompt\"/\"completion\" or \"text\"");
        }
        JsonNode prompt = node.get("prompt");
        JsonNode completion = node.get("completion");
        JsonNode text = node.get("text");
        int[] tokens;
        int firstTarget;
        if (prompt != null || completion != null) {
            if (prompt == null || completion == null || !prompt.isTextual() || !completion.isTextual()) {
                throw new IllegalArgumentException("\"prompt\" and \"completion\" must both be strings");
            }
            if (completion.asText().isEmpty()) {
                throw new IllegalArgumentException("empty \"completion\"");
            }
            int[] p = tokenizer.encode(prompt.asText());
            int[] c = tokenizer.encode(completion.asText());
            tokens = new int[p.length + c.length + 1];
            System.arraycopy(p, 0, tokens, 0, p.length);
            System.arraycopy(c, 0, tokens, p.length, c.length);
            tokens[tokens.length - 1] = tokenizer.eosId();
            if (p.length == 0) {
                // nothing conditions the first completion token: let EOS stand in as beginning of sequence
                int[] withBos = new int[tokens.length + 1];
                withBos[0] = tokenizer.eosId();
                System.arraycopy(tokens, 0, withBos, 1, tokens.length);
                tokens = withBos;
                firstTarget = 1;
            } else {
                firstTarget = p.length;
            }
        } else if (text != null) {
            if (!text.isTextual()) {
                throw new IllegalArgumentException("\"text\" must be a string");
            }
            int[] t = tokenizer.encode(text.asText());
            if (t.length == 0) {
                throw new IllegalArgumentException("empty \"text\"");
            }
            tokens = Arrays.copyOf(t, t.length + 1);
            tokens[t.length] = tokenizer.eosId();
            firstTarget = 1;
        } else {
            throw new IllegalArgumentException("expected fields \"prompt\"/\"completion\" or \"text\"");
        }
        if (tokens.length > maxSeqLen) {
            tokens = Arrays.copyOf(tokens, maxSeqLen);
        }
        if (firstTarget >= tokens.length) {
            return null;
        }
        return new Example(tokens, firstTarget);
    }

    /** Where the examples came from (a file path, or a name for in-memory data). */
    public String source() {
        return source;
    }

    public int size() {
        return examples.size();
    }

    public List<Example> examples() {
        return examples;
    }

    /** Lines skipped under {@link BadLinePolicy#SKIP}. */
    public List<BadLine> badLines() {
        return badLines;
    }

    /** Examples dropped because truncation left nothing to predict. */
    public int droppedByTruncation() {
        return truncated;
    }

    /** The right-padded batch of the examples at the given indices. */
    public TokenBatch batch(int[] indices) {
        List<int[]> seqs = new ArrayList<>(indices.length);
        List<Integer> firsts = new ArrayList<>(indices.length);
        for (int i : indices) {
            Example e = examples.get(i);
            seqs.add(e.tokens());
            firsts.add(e.firstTarget());
        }
        return TokenBatch.of(seqs, firsts);
    }
}
