package io.fedlora.agent.model.ops;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.SplittableRandom;

import static io.fedlora.agent.model.ops.FiniteDifferences.random;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The fp32 embedding lookup gives wte[id] + wpe[position] as the fp64 sum rounded to fp32, and refuses unknown ids. */
class EmbeddingTest {

    @Test
    void fp32LookupMatchesTheFp64Path() {
        SplittableRandom rng = new SplittableRandom(12);
        int vocab = 30;
        int c = 20;
        int seq = 7;
        INDArray wte = random(rng, vocab, c);
        INDArray wpe = random(rng, seq, c).muli(100);
        int[] ids = new int[3 * seq];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = rng.nextInt(vocab);
        }
        INDArray x64 = Nd4j.zeros(DataType.DOUBLE, ids.length, c);
        Embedding.forward(wte.castTo(DataType.FLOAT).castTo(DataType.DOUBLE), wpe.castTo(DataType.FLOAT).castTo(DataType.DOUBLE), ids,
                seq, x64);
        for (boolean positions : new boolean[]{true, false}) {
            INDArray x32 = Nd4j.zeros(DataType.FLOAT, ids.length, c);
            Embedding.forward(wte.castTo(DataType.FLOAT), positions ? wpe.castTo(DataType.FLOAT) : null, ids, seq, x32);
            INDArray expected = positions ? x64.castTo(DataType.FLOAT) : wte.castTo(DataType.FLOAT).getRows(ids);
            assertThat(x32).isEqualTo(expected);
        }
        int[] bad = {1, vocab};
        assertThatThrownBy(() -> Embedding.forward(wte.castTo(DataType.FLOAT), null, bad, 2, Nd4j.zeros(DataType.FLOAT, 2, c)))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
