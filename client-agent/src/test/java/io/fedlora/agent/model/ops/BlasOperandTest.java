package io.fedlora.agent.model.ops;

import io.fedlora.agent.daemon.NativeThreads;
import io.fedlora.agent.model.ops.Blas.Region;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.SplittableRandom;

import static io.fedlora.agent.model.ops.FiniteDifferences.random;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Blas#sgemm} through reusable operands, repositioned from call to call on column slices and row blocks of
 * the same arrays (two operands of one array, as attention's q and k of one qkv), gives the bits of
 * {@link Blas#gemm(boolean, boolean, int, int, int, double, Region, Region, double, Region)} on the same regions.
 */
class BlasOperandTest {

    @BeforeAll
    static void oneThread() {
        NativeThreads.apply(1);
    }

    @Test
    void sameBitsAsGemmOnTheSameRegions() {
        SplittableRandom rng = new SplittableRandom(9);
        INDArray qkv = random(rng, 40, 36).castTo(DataType.FLOAT);
        INDArray c1 = Nd4j.zeros(DataType.FLOAT, 40, 40);
        INDArray c2 = Nd4j.zeros(DataType.FLOAT, 40, 40);
        Blas.F32Operand a = new Blas.F32Operand(qkv);
        Blas.F32Operand b = new Blas.F32Operand(qkv);
        Blas.F32Operand c = new Blas.F32Operand(c2);
        Region whole = new Region(qkv, 0, 36);
        for (int[] cs : new int[][]{{0, 12, 0}, {6, 24, 8}, {12, 0, 20}}) {
            Region qa = whole.at(cs[2], cs[0]);
            Region kb = whole.at(0, cs[1]);
            Blas.gemm(false, true, 20, 40, 12, 0.5, qa, kb, 1.0, Region.of(c1).at(cs[2], 0));
            Blas.sgemm(false, true, 20, 40, 12, 0.5f, a, qa, b, kb, 1f, c, Region.of(c2).at(cs[2], 0));
            Blas.gemm(true, false, 12, 12, 20, 1.0, qa, whole.at(cs[2], cs[1]), 0.0, Region.of(c1).at(0, 28));
            Blas.sgemm(true, false, 12, 12, 20, 1f, a, qa, b, whole.at(cs[2], cs[1]), 0f, c, Region.of(c2).at(0, 28));
        }
        assertThat(c1.sumNumber().doubleValue()).isNotZero();
        assertThat(c2).isEqualTo(c1);
    }
}
