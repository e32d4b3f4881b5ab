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
 * SwiGLU ({@code silu(gate) ⊙ up}) against its definition and its backward for both inputs against central
 * differences, on more elements than one chunk so the split over the pool is exercised.
 */
class SwiGluTest {

    private static final int N = 45;
    private static final int C = 101;

    @BeforeAll
    static void oneThread() {
        NativeThreads.apply(1);
    }

    private static INDArray forward(INDArray gate, INDArray up, Parallel par) {
        INDArray y = Nd4j.zeros(DataType.DOUBLE, N, C);
        SwiGlu.forward(gate, up, y, par);
        return y;
    }

    private static INDArray scaled(SplittableRandom rng) {
        return random(rng, N, C).muli(6); // silu's curvature is in [-6, 6]
    }

    @Test
    void matchesTheDefinitionAtAnyPoolWidth() {
        SplittableRandom rng = new SplittableRandom(1);
        INDArray gate = scaled(rng);
        INDArray up = scaled(rng);
        INDArray y = forward(gate, up, Parallel.of(1));
        double worst = 0;
        for (long i = 0; i < y.length(); i++) {
            double a = gate.getDouble(i);
            double want = a / (1 + Math.exp(-a)) * up.getDouble(i);
            worst = Math.max(worst, Math.abs(y.getDouble(i) - want));
        }
        assertThat(worst).isLessThan(1e-14);
        assertThat(forward(gate, up, Parallel.of(2))).isEqualTo(y);
        assertThat(SwiGlu.silu(0)).isZero();
        assertThat(SwiGlu.siluGrad(0)).isEqualTo(0.5);
    }

    @Test
    void backwardMatchesFiniteDifferences() {
        SplittableRandom rng = new SplittableRandom(2);
        INDArray gate = scaled(rng);
        INDArray up = scaled(rng);
        INDArray w = random(rng, N, C);
        Parallel par = Parallel.of(2);
        INDArray dGate = Nd4j.zeros(DataType.DOUBLE, N, C);
        INDArray dUp = Nd4j.zeros(DataType.DOUBLE, N, C);
        SwiGlu.backward(w, gate, up, dGate, dUp, par);
        assertThat(maxRelativeError(gate, dGate, () -> weightedSum(w, forward(gate, up, par)), 7)).isLessThan(1e-4);
        assertThat(maxRelativeError(up, dUp, () -> weightedSum(w, forward(gate, up, par)), 7)).isLessThan(1e-4);
        for (double a : new double[]{-5, -0.3, 0.2, 4}) {
            double fd = (SwiGlu.silu(a + 1e-6) - SwiGlu.silu(a - 1e-6)) / 2e-6;
            assertThat(SwiGlu.siluGrad(a)).isCloseTo(fd, org.assertj.core.data.Offset.offset(1e-8));
        }

        // dy may be one of the outputs (the network reuses the gradient buffer)
        INDArray inPlace = w.dup();
        INDArray dUp2 = Nd4j.zeros(DataType.DOUBLE, N, C);
        SwiGlu.backward(inPlace, gate, up, inPlace, dUp2, par);
        assertThat(inPlace).isEqualTo(dGate);
        assertThat(dUp2).isEqualTo(dUp);
    }

    @Test
    void theCheckCatchesAWrongGradient() {
        SplittableRandom rng = new SplittableRandom(3);
        INDArray gate = scaled(rng);
        INDArray up = scaled(rng);
        INDArray w = random(rng, N, C);
        Parallel par = Parallel.of(1);
        INDArray dGate = Nd4j.zeros(DataType.DOUBLE, N, C);
        INDArray dUp = Nd4j.zeros(DataType.DOUBLE, N, C);
        SwiGlu.backward(w, gate, up, dGate, dUp, par);
        long worst = largest(dGate);
        dGate.putScalar(worst, dGate.getDouble(worst) * 1.001);
        assertThat(maxRelativeError(gate, dGate, () -> weightedSum(w, forward(gate, up, par)), 1)).isGreaterThan(1e-4);
    }
}
