package io.fedlora.agent.model.ops;

/**
 * {@code e^x} to better than fp32 accuracy (relative error below 1e-8, against fp32's 6e-8 ulp) without
 * {@link Math#exp}'s call: a branch-free range reduction to {@code 2^n · e^r}, {@code |r| ≤ ln2/2}, and a degree-7
 * polynomial, so loops over a row vectorise. The softmaxes of attention and the LM head spent most of a small
 * model's step in {@code Math.exp}; kernels use this only on fp32 arrays (the fp64 gradient checks keep
 * {@code Math.exp}). Arguments are clamped to [-700, 700].
 */
final class FastExp {

    private static final double LOG2E = 1.4426950408889634;
    private static final double LN2 = 0.6931471805599453;

    private FastExp() {
    }

    static double exp(double x) {
        double t = Math.min(700.0, Math.max(-700.0, x)) * LOG2E;
        double n = Math.rint(t);
        double r = (t - n) * LN2;
        double p = 1.0 / 5040;
        p = p * r + 1.0 / 720;
        p = p * r + 1.0 / 120;
        p = p * r + 1.0 / 24;
        p = p * r + 1.0 / 6;
        p = p * r + 0.5;
        p = p * r + 1.0;
        p = p * r + 1.0;
        return p * Double.longBitsToDouble(((long) n + 1023) << 52);
    }

    /**
     * {@code v[i] ← e^(v[i] − shift)} for i in [0, len), with {@code fast} this approximation, else {@link Math#exp};
     * returns the sum in index order.
     */
    static double expShiftedSum(double[] v, int len, double shift, boolean fast) {
        if (fast) {
            for (int i = 0; i < len; i++) {
                v[i] = exp(v[i] - shift);
            }
        } else {
            for (int i = 0; i < len; i++) {
                v[i] = Math.exp(v[i] - shift);
            }
        }
        double sum = 0;
        for (int i = 0; i < len; i++) {
            sum += v[i];
        }
        return sum;
    }

    /** The largest of {@code v[0..len)}. */
    static double max(double[] v, int len) {
        double m = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < len; i++) {
            m = Math.max(m, v[i]);
        }
        return m;
    }
}
