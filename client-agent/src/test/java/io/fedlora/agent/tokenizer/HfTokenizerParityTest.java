package io.fedlora.agent.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Tokenizer parity with HF {@code tokenizers} on the committed fixtures ({@code scripts/hf-fixtures/make_fixtures.py}):
 * GPT-2 byte-level BPE, Llama 3 / Qwen2 byte-level BPE with the split regex, and SentencePiece-style BPE with
 * {@code ▁} and byte fallback, over prose, code, whitespace runs, accents and combining marks, CJK, Hangul, emoji
 * (ZWJ sequences), look-alike special tokens and empty strings: ids with and without special tokens, and decoding.
 */
class HfTokenizerParityTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static Path file(String name) throws Exception {
        return Path.of(HfTokenizerParityTest.class.getResource("/hf-fixtures/tokenizers/" + name).toURI());
    }

    private static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asInt();
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2-byte-level", "llama3-byte-level", "sentencepiece-bpe"})
    void idsAndDecodingMatchHuggingFace(String kind) throws Exception {
        JsonNode cases = JSON.readTree(file(kind + ".parity.json").toFile());
        List<String> mismatches = new ArrayList<>();
        int tokens = 0;
        try (HfJsonTokenizer t = HfJsonTokenizer.open(file(kind + ".tokenizer.json"), 0, -1)) {
            for (JsonNode c : cases) {
                String text = c.get("text").asText();
                int[] ids = t.encode(text);
                tokens += ids.length;
                if (!Arrays.equals(ids, ints(c.get("ids")))) {
                    mismatches.add("ids of " + JSON.writeValueAsString(text) + ": " + Arrays.toString(ids));
                }
                if (!Arrays.equals(t.encodeWithSpecialTokens(text), ints(c.get("ids_with_special")))) {
                    mismatches.add("ids with special tokens of " + JSON.writeValueAsString(text));
                }
                if (!t.decode(ids).equals(c.get("decoded").asText())) {
                    mismatches.add("decoding of " + JSON.writeValueAsString(text) + ": " + JSON.writeValueAsString(t.decode(ids)));
                }
            }
            // no truncation: a long text keeps every token
            String longText = "federated learning ".repeat(400);
            assertThat(t.encode(longText).length).isGreaterThan(800);
        }
        System.out.printf("tokenizer parity %s: %d texts, %d tokens, %d mismatches%n", kind, cases.size(), tokens, mismatches.size());
        assertThat(cases.size()).isGreaterThanOrEqualTo(20);
        assertThat(mismatches).isEmpty();
    }
}
