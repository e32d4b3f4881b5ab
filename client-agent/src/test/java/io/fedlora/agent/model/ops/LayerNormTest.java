package io.fedlora.agent.model.ops;

import io.fedlora.agent.daemon.NativeThreads;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.SplittableRandom;

import static io.fedlora.agent.model.ops.FiniteDifferences.random;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Layer norm on fp32 arrays against the same kernels on fp64 copies of the inputs: forward output, the kept
 * statistics, and dx written and accumulated, to fp32 rounding; and the same bits whether or not the rows are split
 * over the pool. (A guard for rewriting the fp32 path: an fp32-only loop tried in this session was slower on JDK 17
 * and was not kept.)
 */
class LayerNormTest {

    private static final int N = 150;
    private static final int C = 96;

    @BeforeAll
    static void oneThread() {
        NativeThreads.apply(1);
    }

    private static double relErr(INDArray f32, INDArray f64) {
        return f32.castTo(DataType.DOUBLE).sub(f64).amaxNumber().doubleValue() / f64.amaxNumber().doubleValue();
    }

    @Test
    void fp32MatchesFp64() {
        SplittableRandom rng = new SplittableRandom(8);
        INDArray x = random(rng, N, C).muli(3).addi(0.5);
        INDArray g = random(rng, 1, C).addi(1).reshape(C);
        INDArray b = random(rng, 1, C).reshape(C);
        INDArray dy = random(rng, N, C);
        INDArray base = random(rng, N, C);
        Parallel par = Parallel.of(2).splittingEverything();

        INDArray y64 = Nd4j.zeros(DataType.DOUBLE, N, C);
        LayerNorm.Stats s64 = LayerNorm.forward(x, g, b, 1e-5, y64, par);
        INDArray x32 = x.castTo(DataType.FLOAT);
        INDArray g32 = g.castTo(DataType.FLOAT);
        INDArray y32 = Nd4j.zeros(DataType.FLOAT, N, C);
        LayerNorm.Stats s32 = LayerNorm.forward(x32, g32, b.castTo(DataType.FLOAT), 1e-5, y32, par);
        assertThat(relErr(y32, y64)).isLessThan(1e-6);
        for (int r = 0; r < N; r++) {
            assertThat(s32.mean()[r]).isCloseTo(s64.mean()[r], org.assertj.core.data.Offset.offset(1e-6));
            assertThat(s32.rstd()[r] / s64.rstd()[r]).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-6));
        }
        for (boolean accumulate : new boolean[]{false, true}) {
            INDArray dx64 = base.dup();
            LayerNorm.backward(dy, x, g, s64, dx64, accumulate, null, null, par);
            INDArray dx32 = base.castTo(DataType.FLOAT);
            LayerNorm.backward(dy.castTo(DataType.FLOAT), x32, g32, s32, dx32, accumulate, null, null, par);
            assertThat(relErr(dx32, dx64)).as("accumulate %s", accumulate).isLessThan(2e-6);
        }
        INDArray y1 = Nd4j.zeros(DataType.FLOAT, N, C);
        LayerNorm.forward(x32, g32, b.castTo(DataType.FLOAT), 1e-5, y1, Parallel.of(1));
        assertThat(y1).isEqualTo(y32);
    }
}
