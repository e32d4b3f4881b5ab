package io.fedlora.agent.model.ops;

/**
 * {@code e^x} to far better than fp32 accuracy (relative error about 2e-13 on [-100, 20], 2e-9 at ±700) using only
 * multiplications, additions and a clamp: {@code e^x = (e^(x/1024))^1024}, the inner power a degree-12 Taylor
 * polynomial on {@code |x/1024| ≤ 0.7}, then ten squarings. With no rounding or bit reinterpretation (which the JIT
 * cannot vectorise) a loop over a row compiles to SIMD code: about 2.5 times faster than the previous range-reduced
 * polynomial and 3–4 times faster than {@link Math#exp} in a micro-benchmark on this machine. The softmaxes of
 * attention and the LM head spent most of a small model's step in exp; kernels use this only on fp32 arrays (the
 * fp64 gradient checks keep {@code Math.exp}). Arguments are clamped to [-708, 708].
 */
final class FastExp {

    private FastExp() {
    }

    static double exp(double x) {
        double r = Math.max(-708.0, Math.min(708.0, x)) * (1.0 / 1024);
        double p = 1.0 / 479001600;
        p = p * r + 1.0 / 39916800;
        p = p * r + 1.0 / 3628800;
        p = p * r + 1.0 / 362880;
        p = p * r + 1.0 / 40320;
        p = p * r + 1.0 / 5040;
        p = p * r + 1.0 / 720;
        p = p * r + 1.0 / 120;
        p = p * r + 1.0 / 24;
        p = p * r + 1.0 / 6;
        p = p * r + 0.5;
        p = p * r + 1.0;
        p = p * r + 1.0;
        p *= p;
        p *= p;
        p *= p;
        p *= p;
        p *= p;
        p *= p;
        p *= p;
        p *= p;
        p *= p;
        p *= p;
        return p;
    }

    /**
     * {@code v[i] ← e^(v[i] − shift)} for i in [0, len), with {@code fast} this approximation, else {@link Math#exp};
     * returns their {@link #sum}.
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
        return sum(v, len);
    }

    /** Σ v[0..len) in {@link RowSums#sum}'s fixed order. */
    static double sum(double[] v, int len) {
        return RowSums.sum(v, len);
    }

    /** The largest of {@code v[0..len)}. */
    static double max(double[] v, int len) {
        double m0 = Double.NEGATIVE_INFINITY;
        double m1 = Double.NEGATIVE_INFINITY;
        double m2 = Double.NEGATIVE_INFINITY;
        double m3 = Double.NEGATIVE_INFINITY;
        int i = 0;
        for (; i + 3 < len; i += 4) {
            m0 = Math.max(m0, v[i]);
            m1 = Math.max(m1, v[i + 1]);
            m2 = Math.max(m2, v[i + 2]);
            m3 = Math.max(m3, v[i + 3]);
        }
        double m = Math.max(Math.max(m0, m1), Math.max(m2, m3));
        for (; i < len; i++) {
            m = Math.max(m, v[i]);
        }
        return m;
    }
}
