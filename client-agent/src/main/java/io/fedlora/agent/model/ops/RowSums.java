package io.fedlora.agent.model.ops;

/**
 * Sums over one row with four interleaved partial sums, combined as {@code (s0 + s1) + (s2 + s3)}, then the tail in
 * index order: a fixed order (the result depends only on the row, never on the thread count), without a whole
 * add's latency per element as a single running sum has.
 */
final class RowSums {

    private RowSums() {
    }

    static double sum(double[] v, int len) {
        return sum(v, 0, len);
    }

    /** Σ a[i]·b[i] over [0, len), in the same order as {@link #sum}. */
    static double dot(double[] a, double[] b, int len) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        int i = 0;
        for (; i + 3 < len; i += 4) {
            s0 += a[i] * b[i];
            s1 += a[i + 1] * b[i + 1];
            s2 += a[i + 2] * b[i + 2];
            s3 += a[i + 3] * b[i + 3];
        }
        double sum = (s0 + s1) + (s2 + s3);
        for (; i < len; i++) {
            sum += a[i] * b[i];
        }
        return sum;
    }

    /** Σ v[from..from+len) in {@link #sum}'s order (as {@code sum} of that slice). */
    static double sum(double[] v, int from, int len) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        int i = 0;
        for (; i + 3 < len; i += 4) {
            s0 += v[from + i];
            s1 += v[from + i + 1];
            s2 += v[from + i + 2];
            s3 += v[from + i + 3];
        }
        double sum = (s0 + s1) + (s2 + s3);
        for (; i < len; i++) {
            sum += v[from + i];
        }
        return sum;
    }

    /** Σ a[from+i]·b[from+i] over i in [0, len), widened to fp64, in {@link #dot}'s order. */
    static double dot(float[] a, float[] b, int from, int len) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        int i = 0;
        for (; i + 3 < len; i += 4) {
            s0 += (double) a[from + i] * b[from + i];
            s1 += (double) a[from + i + 1] * b[from + i + 1];
            s2 += (double) a[from + i + 2] * b[from + i + 2];
            s3 += (double) a[from + i + 3] * b[from + i + 3];
        }
        double sum = (s0 + s1) + (s2 + s3);
        for (; i < len; i++) {
            sum += (double) a[from + i] * b[from + i];
        }
        return sum;
    }
}
