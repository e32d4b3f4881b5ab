package io.fedlora.agent.model.ops;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.SplittableRandom;

import static io.fedlora.agent.model.ops.FiniteDifferences.random;
import static org.assertj.core.api.Assertions.assertThat;

/** The fp32 residual add (several chunks, split over the pool, in place) gives each element's fp64 sum rounded to fp32. */
class ElementwiseTest {

    @Test
    void fp32AddIsTheRoundedExactSum() {
        SplittableRandom rng = new SplittableRandom(10);
        INDArray a = random(rng, 70, 100).castTo(DataType.FLOAT);
        INDArray b = random(rng, 70, 100).muli(1e3).castTo(DataType.FLOAT);
        float[] av = a.dup().reshape(7000).toFloatVector();
        float[] bv = b.dup().reshape(7000).toFloatVector();
        Elementwise.add(a, b, a, Parallel.of(2).splittingEverything());
        float[] out = a.reshape(7000).toFloatVector();
        for (int i = 0; i < out.length; i++) {
            assertThat(out[i]).as("element %d", i).isEqualTo((float) ((double) av[i] + (double) bv[i]));
        }
    }
}
