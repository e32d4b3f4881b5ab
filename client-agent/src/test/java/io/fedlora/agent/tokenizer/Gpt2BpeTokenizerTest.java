package io.fedlora.agent.tokenizer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** GPT-2 BPE on a hand-made vocabulary whose ids were worked out by hand (Ġ is GPT-2's stand-in for a space byte). */
class Gpt2BpeTokenizerTest {

    private static final String VOCAB = """
            {"h":0,"e":1,"l":2,"o":3,"Ġ":4,"w":5,"r":6,"d":7,"he":8,"ll":9,"hell":10,"hello":11,
             "Ġw":12,"or":13,"Ġwor":14,"ld":15,"Ġworld":16,"<|endoftext|>":17,"!":18}""";
    private static final String MERGES = """
            #version: 0.2
            h e
            l l
            he ll
            hell o
            Ġ w
            o r
            Ġw or
            l d
            Ġwor ld
            """;

    @TempDir
    Path dir;

    private Tokenizer fromFiles() throws IOException {
        Files.writeString(dir.resolve("vocab.json"), VOCAB);
        Files.writeString(dir.resolve("merges.txt"), MERGES);
        return Tokenizers.forModelDir(dir);
    }

    @Test
    void mergesByRankAsWorkedOutByHand() throws IOException {
        Tokenizer t = fromFiles();
        assertThat(t).isInstanceOf(Gpt2BpeTokenizer.class);
        assertThat(t.encode("hello world")).containsExactly(11, 16);
        assertThat(t.encode("hello world!")).containsExactly(11, 16, 18);
        // "hold": no merge for "h o" or "o l"; "l d" applies
        assertThat(t.encode("hold")).containsExactly(0, 3, 15);
        assertThat(t.encode("hello<|endoftext|>")).containsExactly(11, 17);
        assertThat(t.eosId()).isEqualTo(17);
        assertThat(t.vocabSize()).isEqualTo(19);
    }

    @Test
    void decodesBackToTheText() throws IOException {
        Tokenizer t = fromFiles();
        for (String s : List.of("hello world", "hello world!", "hold", "held world", "hello<|endoftext|>")) {
            assertThat(t.decode(t.encode(s))).isEqualTo(s);
        }
    }

    @Test
    void readsTokenizerJsonWithPairMerges() throws IOException {
        String json = """
                {"version":"1.0","truncation":null,"padding":null,
                 "added_tokens":[{"id":17,"content":"<|endoftext|>","single_word":false,"lstrip":false,"rstrip":false,
                   "normalized":false,"special":true}],
                 "normalizer":null,
                 "pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true},
                 "post_processor":null,
                 "decoder":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true},
                 "model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,
                 "end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,"vocab":%s,
                 "merges":[["h","e"],["l","l"],["he","ll"],["hell","o"],["Ġ","w"],["o","r"],["Ġw","or"],["l","d"],["Ġwor","ld"]]}}"""
                .formatted(VOCAB.replace("\"<|endoftext|>\":17,", ""));
        Files.writeString(dir.resolve("tokenizer.json"), json);
        try (Tokenizer t = Tokenizers.forModelDir(dir)) {
            assertThat(t).isInstanceOf(HfJsonTokenizer.class);
            assertThat(t.encode("hello world")).containsExactly(11, 16);
            assertThat(t.eosId()).isEqualTo(17);
            assertThat(t.decode(t.encode("hello world"))).isEqualTo("hello world");
        }
    }

    @Test
    void failsOnASymbolOutsideTheVocabulary() throws IOException {
        Tokenizer t = fromFiles();
        assertThatThrownBy(() -> t.encode("zebra")).isInstanceOf(IllegalStateException.class).hasMessageContaining("z");
        assertThatThrownBy(() -> t.decode(new int[]{99})).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void mapsEveryByteToAVisibleCharacterAndBack() {
        ByteUnicode map = new ByteUnicode();
        assertThat(map.toChar(' ')).isEqualTo('Ġ');
        assertThat(map.toChar('A')).isEqualTo('A');
        for (int b = 0; b < 256; b++) {
            assertThat(map.toByte(map.toChar(b))).isEqualTo(b);
            assertThat(Character.isWhitespace(map.toChar(b))).isFalse();
        }
    }
}
