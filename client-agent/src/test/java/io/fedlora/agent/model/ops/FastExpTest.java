package io.fedlora.agent.model.ops;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The fp32 kernels' exp stays far inside fp32's rounding over the range softmaxes use, and saturates sanely. */
class FastExpTest {

    @Test
    void relativeErrorIsBelowOneTenthOfAnFp32Ulp() {
        SplittableRandom random = new SplittableRandom(7);
        double worst = 0;
        for (int i = 0; i < 200_000; i++) {
            double x = random.nextDouble(-100, 20);
            double exact = Math.exp(x);
            worst = Math.max(worst, Math.abs(FastExp.exp(x) - exact) / exact);
        }
        for (double x : new double[] {0, -0.0, 1e-12, -1e-12, Math.log(2) / 2, -Math.log(2) / 2, -87.3, 88.0}) {
            worst = Math.max(worst, Math.abs(FastExp.exp(x) - Math.exp(x)) / Math.exp(x));
        }
        assertThat(worst).as("one tenth of fp32's relative ulp 2^-23 is 1.2e-8").isLessThan(1e-8);
    }

    @Test
    void farArgumentsSaturateWithoutNaN() {
        assertThat(FastExp.exp(Double.NEGATIVE_INFINITY)).isBetween(0.0, 1e-300);
        assertThat(FastExp.exp(-1e6)).isBetween(0.0, 1e-300);
        assertThat(FastExp.exp(1e6)).isFinite().isGreaterThan(1e300);
    }

    @Test
    void shiftedSumMatchesMathExpInIndexOrder() {
        double[] fast = {-3, -1, 0.5, 2};
        double[] exact = fast.clone();
        double s1 = FastExp.expShiftedSum(fast, 4, 2, true);
        double s2 = FastExp.expShiftedSum(exact, 4, 2, false);
        assertThat(s1).isCloseTo(s2, org.assertj.core.data.Offset.offset(1e-8 * s2));
        assertThat(FastExp.max(new double[] {-5, 3, 1}, 3)).isEqualTo(3);
    }

    @Test
    void rowSumsCoverEveryElementIncludingTheTail() {
        for (int len = 0; len <= 9; len++) {
            double[] a = new double[len];
            double[] b = new double[len];
            double sum = 0;
            double dot = 0;
            for (int i = 0; i < len; i++) {
                a[i] = 1 << i;
                b[i] = i + 1;
                sum += a[i];
                dot += a[i] * b[i];
            }
            assertThat(RowSums.sum(a, len)).as("sum of %d", len).isEqualTo(sum);
            assertThat(RowSums.dot(a, b, len)).as("dot of %d", len).isEqualTo(dot);
            assertThat(FastExp.max(b, len)).isEqualTo(len == 0 ? Double.NEGATIVE_INFINITY : len);
        }
    }
}
