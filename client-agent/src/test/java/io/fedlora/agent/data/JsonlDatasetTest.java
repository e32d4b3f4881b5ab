package io.fedlora.agent.data;

import io.fedlora.agent.model.TokenBatch;
import io.fedlora.agent.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class JsonlDatasetTest {

    private static final ByteTokenizer TOK = new ByteTokenizer(257);

    @TempDir
    Path dir;

    private Path write(String content) throws IOException {
        Path f = dir.resolve("train.jsonl");
        Files.writeString(f, content);
        return f;
    }

    @Test
    void promptCompletionScoresOnlyTheCompletionAndEos() throws IOException {
        JsonlDataset d = JsonlDataset.read(write("{\"prompt\":\"1+2=\",\"completion\":\"3\"}\n"), TOK, 64, BadLinePolicy.FAIL);
        Example e = d.examples().get(0);
        assertThat(e.tokens()).containsExactly('1', '+', '2', '=', '3', 256);
        assertThat(e.firstTarget()).isEqualTo(4);
        TokenBatch b = d.batch(new int[]{0});
        assertThat(b.inputIds()).containsExactly('1', '+', '2', '=', '3');
        assertThat(b.targetIds()).containsExactly('+', '2', '=', '3', 256);
        assertThat(b.lossWeights()).containsExactly(0f, 0f, 0f, 1f, 1f);
    }

    @Test
    void textScoresEveryTokenAfterTheFirst() throws IOException {
        JsonlDataset d = JsonlDataset.read(write("{\"text\":\"abc\"}\n"), TOK, 64, BadLinePolicy.FAIL);
        assertThat(d.examples().get(0).tokens()).containsExactly('a', 'b', 'c', 256);
        assertThat(d.batch(new int[]{0}).lossWeights()).containsExactly(1f, 1f, 1f);
    }

    @Test
    void skipsBadLinesAndReportsTheirNumbers() throws IOException {
        Path f = write("""
                {"prompt":"a=","completion":"A"}
                {not json
                {"prompt":"b="}

                [1,2]
                {"text":"hello"}
                {"prompt":"c=","completion":7}
                """);
        JsonlDataset d = JsonlDataset.read(f, TOK, 64, BadLinePolicy.SKIP);
        assertThat(d.size()).isEqualTo(2);
        assertThat(d.badLines()).extracting(BadLine::line).containsExactly(2L, 3L, 5L, 7L);
        assertThat(d.badLines().get(0).problem()).contains("invalid JSON");
    }

    @Test
    void failsOnTheFirstBadLineWithFileAndLine() throws IOException {
        Path f = write("{\"text\":\"ok\"}\n{\"prompt\":\"x\"}\n");
        assertThatThrownBy(() -> JsonlDataset.read(f, TOK, 64, BadLinePolicy.FAIL))
                .isInstanceOf(DatasetFormatException.class)
                .hasMessageStartingWith(f + ":2: ")
                .satisfies(e -> assertThat(((DatasetFormatException) e).line()).isEqualTo(2));
    }

    @Test
    void truncatesToMaxSeqLenAndDropsExamplesLeftWithoutTargets() throws IOException {
        Path f = write("""
                {"prompt":"ab=","completion":"xyz"}
                {"prompt":"abcdefgh=","completion":"x"}
                """);
        JsonlDataset d = JsonlDataset.read(f, TOK, 5, BadLinePolicy.FAIL);
        assertThat(d.size()).isEqualTo(1);
        assertThat(d.examples().get(0).tokens()).containsExactly('a', 'b', '=', 'x', 'y');
        assertThat(d.droppedByTruncation()).isEqualTo(1);
    }

    @Test
    void padsShorterExamplesWithZeroWeight() {
        JsonlDataset d = JsonlDataset.of("mem", java.util.List.of(new Example(new int[]{1, 2, 3, 4}, 1), new Example(new int[]{5, 6}, 1)));
        TokenBatch b = d.batch(new int[]{0, 1});
        assertThat(b.seqLen()).isEqualTo(3);
        assertThat(b.lossWeights()).containsExactly(1f, 1f, 1f, 1f, 0f, 0f);
        assertThat(b.targetCount()).isEqualTo(4.0);
    }
}
