package io.fedlora.agent.model.ops;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.aggregation.lora.LoraFactors;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Central finite differences in fp64, the one implementation behind every gradient check: the ops' tests (an op's
 * backward, fed {@code dy = w}, must give the derivative of the scalar {@code Σ w ⊙ op(x)} for a random weighting
 * {@code w}) and the whole networks' tests (the analytic gradients of the mean loss against differences of the loss,
 * parameter by parameter).
 */
public final class FiniteDifferences {

    public static final double H = 1e-6;
    /**
     * Denominator floor of the relative error for the ops' weighted sums: the loss sums thousands of O(1) terms, so
     * its rounding (~1e-13) over 2h leaves ~1e-8 absolute noise in each difference; entries far below 1e-3 would turn
     * that into a large ratio.
     */
    public static final double FLOOR = 1e-3;
    /**
     * Denominator floor for a network's mean loss, which is O(1) with rounding near 1e-16: entries whose true gradient
     * is ~0 compare absolutely below it.
     */
    public static final double LOSS_FLOOR = 1e-6;

    private FiniteDifferences() {
    }

    /** Uniform entries in [-1, 1). */
    public static INDArray random(SplittableRandom rng, long... shape) {
        return uniform(rng, 1.0, shape);
    }

    /** Uniform entries in [-halfWidth, halfWidth), c-order, drawn in index order. */
    public static INDArray uniform(SplittableRandom rng, double halfWidth, long... shape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        double[] d = new double[(int) n];
        for (int i = 0; i < d.length; i++) {
            d[i] = rng.nextDouble(-halfWidth, halfWidth);
        }
        return Nd4j.create(d, shape, 'c');
    }

    /** Each adapter's A and B under the names a network gives their gradients ({@code module.lora_A}, {@code .lora_B}). */
    public static Map<String, INDArray> adapterParams(Map<String, LoraFactors> adapters) {
        Map<String, INDArray> p = new LinkedHashMap<>();
        adapters.forEach((m, f) -> {
            p.put(m + ".lora_A", f.a());
            p.put(m + ".lora_B", f.b());
        });
        return p;
    }

    /** Σ w ⊙ y. */
    public static double weightedSum(INDArray w, INDArray y) {
        return w.mul(y).sumNumber().doubleValue();
    }

    /** Index of the entry of largest magnitude (where a seeded 0.1% error is surely above the noise). */
    public static long largest(INDArray a) {
        long best = 0;
        for (long i = 1; i < a.length(); i++) {
            if (Math.abs(a.getDouble(i)) > Math.abs(a.getDouble(best))) {
                best = i;
            }
        }
        return best;
    }

    /**
     * Worst relative error of {@code analytic} (the gradient of {@code loss} with respect to {@code x}) against
     * central differences, perturbing every {@code stride}-th element of {@code x} in place, with the ops' floor.
     */
    public static double maxRelativeError(INDArray x, INDArray analytic, DoubleSupplier loss, int stride) {
        return maxRelativeError(x, analytic, loss, 0, stride, FLOOR);
    }

    /**
     * As {@link #maxRelativeError(INDArray, INDArray, DoubleSupplier, int)} from element {@code first} on, the error
     * relative to {@code max(floor, |fd|, |analytic|)}.
     */
    public static double maxRelativeError(INDArray x, INDArray analytic, DoubleSupplier loss, long first, int stride,
                                          double floor) {
        double worst = 0;
        for (long i = first; i < x.length(); i += stride) {
            double orig = x.getDouble(i);
            x.putScalar(i, orig + H);
            double plus = loss.getAsDouble();
            x.putScalar(i, orig - H);
            double minus = loss.getAsDouble();
            x.putScalar(i, orig);
            double fd = (plus - minus) / (2 * H);
            double an = analytic.getDouble(i);
            worst = Math.max(worst, Math.abs(fd - an) / Math.max(floor, Math.max(Math.abs(fd), Math.abs(an))));
        }
        return worst;
    }

    /**
     * Worst relative error over named parameters of a network's loss (floor {@link #LOSS_FLOOR}); every parameter must
     * have an analytic gradient under its name. Each parameter's first perturbed element is staggered by its name
     * (0-3, below the stride), so a stride longer than a small tensor does not check only its element 0 in every one.
     */
    public static double maxRelativeError(Map<String, INDArray> params, Map<String, INDArray> analytic, DoubleSupplier loss,
                                          int stride) {
        double worst = 0;
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            INDArray g = analytic.get(e.getKey());
            assertThat(g).as("gradient of %s", e.getKey()).isNotNull();
            worst = Math.max(worst, maxRelativeError(e.getValue(), g, loss, (e.getKey().hashCode() & 3) % stride, stride, LOSS_FLOOR));
        }
        return worst;
    }
}
