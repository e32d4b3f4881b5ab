package io.fedlora.agent.tokenizer;

import io.fedlora.agent.model.Gpt2Config;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ByteTokenizerTest {

    @TempDir
    Path dir;

    @Test
    void encodesUtf8BytesAndRoundTrips() {
        ByteTokenizer t = new ByteTokenizer(257);
        assertThat(t.encode("A+é")).containsExactly(65, 43, 0xC3, 0xA9);
        assertThat(t.decode(t.encode("rev:héllo=ollèh"))).isEqualTo("rev:héllo=ollèh");
        assertThat(t.decode(new int[]{104, 105, ByteTokenizer.EOS_ID})).isEqualTo("hi");
        assertThat(t.eosId()).isEqualTo(256);
    }

    @Test
    void rejectsTooSmallVocabulariesAndUnknownIds() {
        assertThatThrownBy(() -> new ByteTokenizer(256)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new ByteTokenizer(257).decode(new int[]{257})).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void isTheFallbackForAModelDirectoryWithoutBpeFiles() {
        new Gpt2Config(1, 2, 8, 16, 260, 1e-5).write(dir.resolve("config.json"));
        Tokenizer t = Tokenizers.forModelDir(dir);
        assertThat(t).isInstanceOf(ByteTokenizer.class);
        assertThat(t.vocabSize()).isEqualTo(260);
    }
}
