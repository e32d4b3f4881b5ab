package io.fedlora.agent.model.ops;

import io.fedlora.agent.daemon.NativeThreads;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.SplittableRandom;

import static io.fedlora.agent.model.ops.FiniteDifferences.largest;
import static io.fedlora.agent.model.ops.FiniteDifferences.maxRelativeError;
import static io.fedlora.agent.model.ops.FiniteDifferences.random;
import static io.fedlora.agent.model.ops.FiniteDifferences.weightedSum;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * RMSNorm against its definition (HF's {@code LlamaRMSNorm}: {@code x·rsqrt(mean(x²) + eps)·weight}) and its backward
 * (dx written and accumulated, dGamma) against central differences, with more rows than one thread's share.
 */
class RmsNormTest {

    private static final int N = 37;
    private static final int C = 10;
    private static final double EPS = 1e-5;

    @BeforeAll
    static void oneThread() {
        NativeThreads.apply(1);
    }

    private static INDArray forward(INDArray x, INDArray gamma, Parallel par) {
        INDArray y = Nd4j.zeros(DataType.DOUBLE, N, C);
        RmsNorm.forward(x, gamma, EPS, y, par);
        return y;
    }

    @Test
    void matchesTheDefinitionAtAnyPoolWidth() {
        SplittableRandom rng = new SplittableRandom(1);
        INDArray x = random(rng, N, C);
        INDArray gamma = random(rng, C);
        INDArray y1 = forward(x, gamma, Parallel.of(1));
        double worst = 0;
        for (int r = 0; r < N; r++) {
            double ms = 0;
            for (int j = 0; j < C; j++) {
                ms += x.getDouble(r, j) * x.getDouble(r, j) / C;
            }
            for (int j = 0; j < C; j++) {
                double want = x.getDouble(r, j) / Math.sqrt(ms + EPS) * gamma.getDouble(j);
                worst = Math.max(worst, Math.abs(y1.getDouble(r, j) - want));
            }
        }
        assertThat(worst).isLessThan(1e-14);
        assertThat(forward(x, gamma, Parallel.of(2))).isEqualTo(y1);
    }

    @Test
    void backwardMatchesFiniteDifferences() {
        SplittableRandom rng = new SplittableRandom(2);
        INDArray x = random(rng, N, C);
        INDArray gamma = random(rng, C);
        INDArray w = random(rng, N, C);
        Parallel par = Parallel.of(2);
        INDArray y = Nd4j.zeros(DataType.DOUBLE, N, C);
        double[] rrms = RmsNorm.forward(x, gamma, EPS, y, par);
        INDArray dx = Nd4j.zeros(DataType.DOUBLE, N, C);
        INDArray dGamma = Nd4j.zeros(DataType.DOUBLE, C);
        RmsNorm.backward(w, x, gamma, rrms, dx, false, dGamma, par);
        assertThat(maxRelativeError(x, dx, () -> weightedSum(w, forward(x, gamma, par)), 1)).isLessThan(1e-5);
        assertThat(maxRelativeError(gamma, dGamma, () -> weightedSum(w, forward(x, gamma, par)), 1)).isLessThan(1e-5);

        // accumulate adds onto what dx holds (the residual stream's gradient)
        INDArray base = random(rng, N, C);
        INDArray acc = base.dup();
        RmsNorm.backward(w, x, gamma, rrms, acc, true, null, par);
        assertThat(acc.sub(base).equalsWithEps(dx, 1e-14)).isTrue();
    }

    @Test
    void theCheckCatchesAWrongGradient() {
        SplittableRandom rng = new SplittableRandom(3);
        INDArray x = random(rng, N, C);
        INDArray gamma = random(rng, C);
        INDArray w = random(rng, N, C);
        Parallel par = Parallel.of(1);
        double[] rrms = RmsNorm.forward(x, gamma, EPS, Nd4j.zeros(DataType.DOUBLE, N, C), par);
        INDArray dx = Nd4j.zeros(DataType.DOUBLE, N, C);
        RmsNorm.backward(w, x, gamma, rrms, dx, false, null, par);
        long worst = largest(dx);
        dx.putScalar(worst, dx.getDouble(worst) * 1.001);
        assertThat(maxRelativeError(x, dx, () -> weightedSum(w, forward(x, gamma, par)), 1)).isGreaterThan(1e-4);
    }
}
