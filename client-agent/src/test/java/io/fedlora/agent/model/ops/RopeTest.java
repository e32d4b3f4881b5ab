package io.fedlora.agent.model.ops;

import io.fedlora.agent.daemon.NativeThreads;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.SplittableRandom;

import static io.fedlora.agent.model.ops.FiniteDifferences.largest;
import static io.fedlora.agent.model.ops.FiniteDifferences.maxRelativeError;
import static io.fedlora.agent.model.ops.FiniteDifferences.random;
import static io.fedlora.agent.model.ops.FiniteDifferences.weightedSum;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Rotary embeddings against HF's {@code apply_rotary_pos_emb} written out literally ({@code q·cos + rotate_half(q)·sin}
 * with {@code emb = cat(freqs, freqs)} and {@code rotate_half(x) = cat(−x₂, x₁)}), at Llama 3's {@code rope_theta};
 * the rotation's properties (norms kept, position 0 unchanged, backward undoes forward); backward against central
 * differences.
 */
class RopeTest {

    private static final int B = 2;
    private static final int T = 23;
    private static final int HEADS = 3;
    private static final int D = 8;
    private static final double THETA = 500000.0;

    @BeforeAll
    static void oneThread() {
        NativeThreads.apply(1);
    }

    /** HF's formula, element by element, from fp32 inverse frequencies and angles as HF computes them. */
    private static double[] hfReference(INDArray x) {
        double[] out = new double[(int) x.length()];
        int half = D / 2;
        for (int r = 0; r < B * T; r++) {
            int p = r % T;
            for (int h = 0; h < HEADS; h++) {
                for (int j = 0; j < D; j++) {
                    int i = j % half; // emb = cat(freqs, freqs)
                    float invFreq = (float) (1.0 / Math.pow(THETA, (float) (2 * i) / D));
                    float angle = (float) p * invFreq;
                    double xj = x.getDouble(r, h * D + j);
                    double rot = j < half ? -x.getDouble(r, h * D + j + half) : x.getDouble(r, h * D + j - half);
                    out[r * HEADS * D + h * D + j] = xj * Math.cos(angle) + rot * Math.sin(angle);
                }
            }
        }
        return out;
    }

    private static INDArray rotated(Rope rope, INDArray x, Parallel par) {
        INDArray y = x.dup('c');
        rope.forward(y, HEADS, par);
        return y;
    }

    @Test
    void matchesHuggingFacesFormulaAndIsARotation() {
        SplittableRandom rng = new SplittableRandom(1);
        INDArray x = random(rng, B * T, HEADS * D);
        Rope rope = new Rope(T, D, THETA);
        INDArray y = rotated(rope, x, Parallel.of(1));
        double[] want = hfReference(x);
        double worst = 0;
        for (int i = 0; i < want.length; i++) {
            worst = Math.max(worst, Math.abs(y.getDouble(i) - want[i]));
        }
        assertThat(worst).isLessThan(1e-14);
        assertThat(rotated(rope, x, Parallel.of(2))).isEqualTo(y);
        for (int r = 0; r < B * T; r++) {
            for (int h = 0; h < HEADS; h++) {
                double nx = 0;
                double ny = 0;
                for (int j = 0; j < D; j++) {
                    nx += Math.pow(x.getDouble(r, h * D + j), 2);
                    ny += Math.pow(y.getDouble(r, h * D + j), 2);
                }
                assertThat(ny).isCloseTo(nx, org.assertj.core.data.Offset.offset(1e-12));
            }
        }
        // every sequence of the batch starts at position 0, where the rotation is the identity
        assertThat(y.getRow(0)).isEqualTo(x.getRow(0));
        assertThat(y.getRow(T)).isEqualTo(x.getRow(T));
        assertThat(y.getRow(1).equalsWithEps(x.getRow(1), 1e-3)).isFalse();
        INDArray back = y.dup();
        rope.backward(back, HEADS, Parallel.of(1));
        assertThat(back.equalsWithEps(x, 1e-14)).isTrue();
    }

    @Test
    void backwardMatchesFiniteDifferences() {
        SplittableRandom rng = new SplittableRandom(2);
        INDArray x = random(rng, B * T, HEADS * D);
        INDArray w = random(rng, B * T, HEADS * D);
        Rope rope = new Rope(T, D, 10000.0);
        Parallel par = Parallel.of(2);
        INDArray dx = w.dup();
        rope.backward(dx, HEADS, par);
        assertThat(maxRelativeError(x, dx, () -> weightedSum(w, rotated(rope, x, par)), 5)).isLessThan(1e-5);
        long worst = largest(dx);
        dx.putScalar(worst, dx.getDouble(worst) * 1.001);
        assertThat(maxRelativeError(x, dx, () -> weightedSum(w, rotated(rope, x, par)), 1)).isGreaterThan(1e-4);
    }

    @Test
    void refusesAShapeItWasNotBuiltFor() {
        Rope rope = new Rope(T, D, THETA);
        INDArray x = random(new SplittableRandom(3), B * T, HEADS * D);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> rope.forward(x, HEADS + 1, Parallel.of(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("do not fit");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new Rope(T, 7, THETA))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("even");
    }
}
