package io.fedlora.agent.model.ops;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The fp32 tanh approximation against Math.tanh over the range GELU feeds it. */
class GeluNewTest {

    @Test
    void fastTanhIsFloatAccurate() {
        double worst = 0;
        for (double z = -12; z <= 12; z += 1e-3) {
            worst = Math.max(worst, Math.abs(GeluNew.tanhFloat(z) - Math.tanh(z)));
        }
        assertThat(worst).isLessThan(3e-7);
        assertThat(Math.abs(GeluNew.tanh(0.3) - Math.tanh(0.3))).isLessThan(1e-15);
    }

    @Test
    void fp32TanhIsWithinAFewUlp() {
        double worst = 0;
        for (double z = -12; z <= 12; z += 1e-3) {
            worst = Math.max(worst, Math.abs(GeluNew.tanhF((float) z) - Math.tanh((float) z)));
        }
        assertThat(worst).as("a few fp32 ulp of 1 (6e-8 each)").isLessThan(5e-7);
    }

    @Test
    void fp32GeluMatchesTheFp64KernelToFp32Rounding() {
        int n = 3 * 2048 + 17;
        double[] xs = new double[n];
        double[] gs = new double[n];
        java.util.SplittableRandom rng = new java.util.SplittableRandom(2);
        for (int i = 0; i < n; i++) {
            xs[i] = (float) rng.nextDouble(-6, 6);
            gs[i] = (float) rng.nextDouble(-1, 1);
        }
        org.nd4j.linalg.api.ndarray.INDArray x64 = org.nd4j.linalg.factory.Nd4j.create(xs, new long[]{1, n}, org.nd4j.linalg.api.buffer.DataType.DOUBLE);
        org.nd4j.linalg.api.ndarray.INDArray g64 = org.nd4j.linalg.factory.Nd4j.create(gs, new long[]{1, n}, org.nd4j.linalg.api.buffer.DataType.DOUBLE);
        org.nd4j.linalg.api.ndarray.INDArray x32 = x64.castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT);
        org.nd4j.linalg.api.ndarray.INDArray g32 = g64.castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT);
        org.nd4j.linalg.api.ndarray.INDArray y64 = x64.dup();
        org.nd4j.linalg.api.ndarray.INDArray y32 = x32.dup();
        Parallel par = Parallel.of(2).splittingEverything();
        GeluNew.forward(x64, y64, par);
        GeluNew.forward(x32, y32, par);
        GeluNew.backward(g64, x64, g64, par);
        GeluNew.backward(g32, x32, g32, par);
        for (int i = 0; i < n; i++) {
            assertThat(y32.getDouble(i)).as("y[%d]", i).isCloseTo(y64.getDouble(i), org.assertj.core.data.Offset.offset(4e-6));
            // the derivative multiplies tanh's few-ulp error and (1 - t²)'s cancellation by up to |x|·(1 + 3·0.044715·x²) ≈ 15 at |x| = 6
            assertThat(g32.getDouble(i)).as("dx[%d]", i).isCloseTo(g64.getDouble(i), org.assertj.core.data.Offset.offset(1e-5));
        }
    }
}
