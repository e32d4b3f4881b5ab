package io.fedlora.agent.model.ops;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;

/**
 * Central finite differences for the ops' gradient tests, in fp64: an op's backward, fed {@code dy = w}, must give the
 * derivative of the scalar {@code Σ w ⊙ op(x)} for a random weighting {@code w}.
 */
final class FiniteDifferences {

    static final double H = 1e-6;
    /**
     * Denominator floor of the relative error: the loss sums thousands of O(1) terms, so its rounding (~1e-13) over
     * 2h leaves ~1e-8 absolute noise in each difference; entries far below 1e-3 would turn that into a large ratio.
     */
    static final double FLOOR = 1e-3;

    private FiniteDifferences() {
    }

    static INDArray random(SplittableRandom rng, long... shape) {
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

    /** Σ w ⊙ y. */
    static double weightedSum(INDArray w, INDArray y) {
        return w.mul(y).sumNumber().doubleValue();
    }

    /** Index of the entry of largest magnitude (where a seeded 0.1% error is surely above the noise). */
    static long largest(INDArray a) {
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
     * central differences, perturbing every {@code stride}-th element of {@code x} in place.
     */
    static double maxRelativeError(INDArray x, INDArray analytic, DoubleSupplier loss, int stride) {
        double worst = 0;
        for (long i = 0; i < x.length(); i += stride) {
            double orig = x.getDouble(i);
            x.putScalar(i, orig + H);
            double plus = loss.getAsDouble();
            x.putScalar(i, orig - H);
            double minus = loss.getAsDouble();
            x.putScalar(i, orig);
            double fd = (plus - minus) / (2 * H);
            double an = analytic.getDouble(i);
            worst = Math.max(worst, Math.abs(fd - an) / Math.max(FLOOR, Math.max(Math.abs(fd), Math.abs(an))));
        }
        return worst;
    }
}
