package io.fedlora.agent.model.ops;

import io.fedlora.agent.daemon.NativeThreads;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.WeightLayout;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
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
 * An adapted projection with a bias in both weight layouts ({@code nn.Linear}'s {@code W [out, in]}, Llama and Qwen2;
 * GPT-2's {@code Conv1D} {@code W [in, out]}) against its definition {@code x·W(ᵀ) + b + s·(x·Aᵀ)·Bᵀ}, and every
 * gradient its backward writes (dx written and accumulated, dW, db, dA, dB) against central differences.
 */
class LinearTest {

    private static final int N = 7;
    private static final int IN = 5;
    private static final int OUT = 6;
    private static final int R = 2;
    private static final double S = 1.5;

    @BeforeAll
    static void oneThread() {
        NativeThreads.apply(1);
    }

    private record Setup(INDArray x, INDArray w, INDArray bias, LoraFactors lora, WeightLayout layout) {
        Linear op() {
            return new Linear(w, layout, bias, lora, S);
        }

        INDArray forward() {
            INDArray y = Nd4j.zeros(DataType.DOUBLE, N, OUT);
            op().forward(x, y, Parallel.of(1));
            return y;
        }
    }

    private static Setup setup(WeightLayout layout, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        INDArray w = layout == WeightLayout.LINEAR ? random(rng, OUT, IN) : random(rng, IN, OUT);
        return new Setup(random(rng, N, IN), w, random(rng, OUT), new LoraFactors(random(rng, R, IN), random(rng, OUT, R)), layout);
    }

    @ParameterizedTest
    @EnumSource(value = WeightLayout.class, names = {"LINEAR", "CONV1D"})
    void matchesTheDefinition(WeightLayout layout) {
        Setup s = setup(layout, 1);
        assertThat(s.op().in()).isEqualTo(IN);
        assertThat(s.op().out()).isEqualTo(OUT);
        INDArray w = layout == WeightLayout.LINEAR ? s.w().transpose() : s.w();
        INDArray want = s.x().mmul(w).addRowVector(s.bias())
                .add(s.x().mmul(s.lora().a().transpose()).mmul(s.lora().b().transpose()).mul(S));
        assertThat(s.forward().equalsWithEps(want, 1e-12)).isTrue();
    }

    @ParameterizedTest
    @EnumSource(value = WeightLayout.class, names = {"LINEAR", "CONV1D"})
    void backwardMatchesFiniteDifferences(WeightLayout layout) {
        Setup s = setup(layout, 2);
        INDArray dy = random(new SplittableRandom(3), N, OUT);
        INDArray u = s.op().forward(s.x(), Nd4j.zeros(DataType.DOUBLE, N, OUT), Parallel.of(1));
        INDArray dx = Nd4j.zeros(DataType.DOUBLE, N, IN);
        INDArray dW = Nd4j.zeros(DataType.DOUBLE, s.w().shape());
        INDArray db = Nd4j.zeros(DataType.DOUBLE, OUT);
        INDArray dA = Nd4j.zeros(DataType.DOUBLE, R, IN);
        INDArray dB = Nd4j.zeros(DataType.DOUBLE, OUT, R);
        s.op().backward(dy, s.x(), u, dx, false, new Linear.Grads(dW, db, dA, dB), Parallel.of(1));
        java.util.function.DoubleSupplier loss = () -> weightedSum(dy, s.forward());
        assertThat(maxRelativeError(s.x(), dx, loss, 1)).as("dx").isLessThan(1e-6);
        assertThat(maxRelativeError(s.w(), dW, loss, 1)).as("dW").isLessThan(1e-6);
        assertThat(maxRelativeError(s.bias(), db, loss, 1)).as("db").isLessThan(1e-6);
        assertThat(maxRelativeError(s.lora().a(), dA, loss, 1)).as("dA").isLessThan(1e-6);
        assertThat(maxRelativeError(s.lora().b(), dB, loss, 1)).as("dB").isLessThan(1e-6);

        // accumulate adds dx onto what the buffer holds (the residual stream's gradient)
        INDArray base = random(new SplittableRandom(4), N, IN);
        INDArray acc = base.dup();
        s.op().backward(dy, s.x(), u, acc, true, Linear.Grads.NONE, Parallel.of(1));
        assertThat(acc.sub(base).equalsWithEps(dx, 1e-12)).isTrue();

        // and the check can fail: 0.1% off in one entry of dW
        long worst = largest(dW);
        dW.putScalar(worst, dW.getDouble(worst) * 1.001);
        assertThat(maxRelativeError(s.w(), dW, loss, 1)).isGreaterThan(1e-4);
    }
}
