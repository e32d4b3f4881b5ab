package io.fedlora.agent.model.ops;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Layer norm over the last dimension, {@code y = (x − mean)/sqrt(var + eps)·gamma + beta}, in one pass per row.
 * The forward keeps only the per-row mean and reciprocal deviation; backward rebuilds the normalised input from
 * {@code x}, which the caller keeps anyway (it is the residual stream), instead of storing another activation.
 */
public final class LayerNorm {

    private LayerNorm() {
    }

    /** Per-row statistics for the backward pass. */
    public record Stats(double[] mean, double[] rstd) {
    }

    /** Normalises the rows of {@code x [n, c]} into {@code y} (may be a fresh array); returns the statistics. */
    public static Stats forward(INDArray x, INDArray gamma, INDArray beta, double eps, INDArray y, Parallel par) {
        int n = (int) x.size(0);
        int c = (int) x.size(1);
        Dense xs = Dense.of(x);
        Dense ys = Dense.of(y);
        Dense g = Dense.of(gamma);
        Dense b = beta == null ? null : Dense.of(beta);
        double[] mean = new double[n];
        double[] rstd = new double[n];
        double[] gv = new double[c];
        double[] bv = new double[c];
        g.read(0, gv, c);
        if (b != null) {
            b.read(0, bv, c);
        }
        par.forRanges(n, par.minItems(6L * c), (part, from, to) -> {
            double[] row = new double[c];
            float[] st = xs.stage(c);
            for (int r = from; r < to; r++) {
                int o = r * c;
                xs.read(o, row, c, st);
                double s = 0;
                for (int j = 0; j < c; j++) {
                    s += row[j];
                }
                double mu = s / c;
                double v = 0;
                for (int j = 0; j < c; j++) {
                    double d = row[j] - mu;
                    v += d * d;
                }
                double rs = 1.0 / Math.sqrt(v / c + eps);
                mean[r] = mu;
                rstd[r] = rs;
                for (int j = 0; j < c; j++) {
                    row[j] = (row[j] - mu) * rs * gv[j] + bv[j];
                }
                ys.write(o, row, c, st);
            }
        });
        return new Stats(mean, rstd);
    }

    /**
     * Writes dx into {@code dx} (or adds it when {@code accumulate}); dGamma/dBeta go to {@code dGamma}/{@code dBeta}
     * when those are non-null (summed over rows in row order, so independent of the thread count).
     */
    public static void backward(INDArray dy, INDArray x, INDArray gamma, Stats st, INDArray dx, boolean accumulate,
                                INDArray dGamma, INDArray dBeta, Parallel par) {
        int n = (int) x.size(0);
        int c = (int) x.size(1);
        Dense dys = Dense.of(dy);
        Dense xs = Dense.of(x);
        Dense g = Dense.of(gamma);
        Dense dxs = Dense.of(dx);
        double[] gv = new double[c];
        g.read(0, gv, c);
        par.forRanges(n, par.minItems(12L * c), (part, from, to) -> {
            double[] dyr = new double[c];
            double[] xr = new double[c];
            double[] acc = new double[c];
            float[] stage = xs.stage(c);
            for (int r = from; r < to; r++) {
                int o = r * c;
                double mu = st.mean()[r];
                double rs = st.rstd()[r];
                dys.read(o, dyr, c, stage);
                xs.read(o, xr, c, stage);
                double m1 = 0;
                double m2 = 0;
                for (int j = 0; j < c; j++) {
                    double dh = dyr[j] * gv[j];
                    double xh = (xr[j] - mu) * rs;
                    m1 += dh;
                    m2 += dh * xh;
                }
                m1 /= c;
                m2 /= c;
                if (accumulate) {
                    dxs.read(o, acc, c, stage);
                }
                for (int j = 0; j < c; j++) {
                    double dh = dyr[j] * gv[j];
                    double xh = (xr[j] - mu) * rs;
                    double v = (dh - m1 - xh * m2) * rs;
                    acc[j] = accumulate ? acc[j] + v : v;
                }
                dxs.write(o, acc, c, stage);
            }
        });
        if (dGamma != null) {
            Dense dg = Dense.of(dGamma);
            Dense db = dBeta == null ? null : Dense.of(dBeta);
            double[] sg = new double[c];
            double[] sb = new double[c];
            for (int r = 0; r < n; r++) {
                int o = r * c;
                double mu = st.mean()[r];
                double rs = st.rstd()[r];
                for (int j = 0; j < c; j++) {
                    double d = dys.get(o + j);
                    sg[j] += d * (xs.get(o + j) - mu) * rs;
                    sb[j] += d;
                }
            }
            for (int j = 0; j < c; j++) {
                dg.set(j, sg[j]);
                if (db != null) {
                    db.set(j, sb[j]);
                }
            }
        }
    }
}
