package io.fedlora.agent.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Each Llama op's backward against central finite differences of {@code sum(w ⊙ op(x))} for a random weighting
 * {@code w}, in fp64, plus RoPE's defining properties (a rotation: norms kept; position 0 unchanged).
 */
class LlamaOpsTest {

    private final SplittableRandom rng = new SplittableRandom(4);

    private INDArray random(long... shape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        double[] d = new double[(int) n];
        for (int i = 0; i < d.length; i++) {
            d[i] = rng.nextDouble(-1, 1);
        }
        return Nd4j.create(d, shape, 'c');
    }

    /** Max relative error of {@code analytic} (d sum(w·f(x)) / dx) against central differences. */
    private static double check(INDArray x, INDArray w, Function<INDArray, INDArray> f, INDArray analytic) {
        double h = 1e-6;
        double worst = 0;
        for (long i = 0; i < x.length(); i++) {
            double orig = x.getDouble(i);
            x.putScalar(i, orig + h);
            double plus = f.apply(x).mul(w).sumNumber().doubleValue();
            x.putScalar(i, orig - h);
            double minus = f.apply(x).mul(w).sumNumber().doubleValue();
            x.putScalar(i, orig);
            double fd = (plus - minus) / (2 * h);
            worst = Math.max(worst, Math.abs(fd - analytic.getDouble(i)) / Math.max(1e-6, Math.abs(fd)));
        }
        return worst;
    }

    @Test
    void rmsNormBackward() {
        INDArray x = random(5, 6);
        INDArray gamma = random(6);
        INDArray w = random(5, 6);
        LlamaOps.RmsNormCache[] c = new LlamaOps.RmsNormCache[1];
        LlamaOps.rmsNorm(x, gamma, 1e-6, c);
        INDArray[] dGamma = new INDArray[1];
        INDArray dx = LlamaOps.rmsNormBackward(w, gamma, c[0], dGamma);
        assertThat(check(x, w, v -> LlamaOps.rmsNorm(v, gamma, 1e-6, null), dx)).isLessThan(1e-6);
        assertThat(check(gamma, w, g -> LlamaOps.rmsNorm(x, g, 1e-6, null), dGamma[0])).isLessThan(1e-6);
    }

    @Test
    void ropeBackwardAndRotation() {
        LlamaOps.Rotary r = LlamaOps.rotary(4, 6, 10000.0, DataType.DOUBLE);
        INDArray x = random(3, 4, 6);
        INDArray w = random(3, 4, 6);
        INDArray dx = LlamaOps.ropeBackward(w, r);
        assertThat(check(x, w, v -> LlamaOps.rope(v, r), dx)).isLessThan(1e-6);
        INDArray y = LlamaOps.rope(x, r);
        // a rotation per pair: every (position, head) vector keeps its norm; position 0 is the identity
        INDArray xn = x.reshape(12, 6).norm2(1);
        INDArray yn = y.reshape(12, 6).norm2(1);
        assertThat(yn.equalsWithEps(xn, 1e-12)).isTrue();
        assertThat(y.get(org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.point(0))
                .equalsWithEps(x.get(org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.point(0)), 1e-12))
                .isTrue();
    }

    @Test
    void swiGluBackward() {
        INDArray gate = random(4, 5);
        INDArray up = random(4, 5);
        INDArray w = random(4, 5);
        LlamaOps.SwiGluCache[] c = new LlamaOps.SwiGluCache[1];
        LlamaOps.swiGlu(gate, up, c);
        INDArray[] d = LlamaOps.swiGluBackward(w, c[0]);
        assertThat(check(gate, w, g -> LlamaOps.swiGlu(g, up, null), d[0])).isLessThan(1e-6);
        assertThat(check(up, w, u -> LlamaOps.swiGlu(gate, u, null), d[1])).isLessThan(1e-6);
        assertThat(Map.of()).isEmpty();
    }
}
