package io.fedlora.agent.model.ops;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * RMSNorm over the last dimension, {@code y = x / sqrt(mean(x²) + eps) · gamma} (Llama, Mistral, Qwen2: no mean, no
 * bias), in one pass per row. Like {@link LayerNorm} the forward keeps only the per-row reciprocal RMS; backward
 * rebuilds the normalised input from {@code x}, which the caller keeps anyway (it is the residual stream).
 */
public final class RmsNorm {

    private RmsNorm() {
    }

    /** Normalises the rows of {@code x [n, c]} into {@code y}; returns each row's reciprocal RMS for backward. */
    public static double[] forward(INDArray x, INDArray gamma, double eps, INDArray y, Parallel par) {
        int n = (int) x.size(0);
        int c = (int) x.size(1);
        Dense xs = Dense.of(x);
        Dense ys = Dense.of(y);
        double[] gv = new double[c];
        Dense.of(gamma).read(0, gv, c);
        double[] rrms = new double[n];
        par.forRanges(n, 16, (part, from, to) -> {
            double[] row = new double[c];
            for (int r = from; r < to; r++) {
                int o = r * c;
                xs.read(o, row, c);
                double ss = 0;
                for (int j = 0; j < c; j++) {
                    ss += row[j] * row[j];
                }
                double rr = 1.0 / Math.sqrt(ss / c + eps);
                rrms[r] = rr;
                for (int j = 0; j < c; j++) {
                    row[j] = row[j] * rr * gv[j];
                }
                ys.write(o, row, c);
            }
        });
        return rrms;
    }

    /**
     * Writes dx into {@code dx} (or adds it when {@code accumulate}): with {@code x̂ = x·r} and {@code g = dy ⊙ gamma},
     * {@code dx = r·(g − x̂·mean(g ⊙ x̂))}. dGamma {@code = Σ_rows dy ⊙ x̂} goes to {@code dGamma} when it is non-null,
     * summed in row order (independent of the thread count).
     */
    public static void backward(INDArray dy, INDArray x, INDArray gamma, double[] rrms, INDArray dx, boolean accumulate,
                                INDArray dGamma, Parallel par) {
        int n = (int) x.size(0);
        int c = (int) x.size(1);
        Dense dys = Dense.of(dy);
        Dense xs = Dense.of(x);
        Dense dxs = Dense.of(dx);
        double[] gv = new double[c];
        Dense.of(gamma).read(0, gv, c);
        par.forRanges(n, 16, (part, from, to) -> {
            double[] dyr = new double[c];
            double[] xr = new double[c];
            double[] acc = new double[c];
            for (int r = from; r < to; r++) {
                int o = r * c;
                double rr = rrms[r];
                dys.read(o, dyr, c);
                xs.read(o, xr, c);
                double m = 0;
                for (int j = 0; j < c; j++) {
                    m += dyr[j] * gv[j] * xr[j] * rr;
                }
                m /= c;
                if (accumulate) {
                    dxs.read(o, acc, c);
                }
                for (int j = 0; j < c; j++) {
                    double v = (dyr[j] * gv[j] - xr[j] * rr * m) * rr;
                    acc[j] = accumulate ? acc[j] + v : v;
                }
                dxs.write(o, acc, c);
            }
        });
        if (dGamma != null) {
            double[] sg = new double[c];
            double[] dyr = new double[c];
            double[] xr = new double[c];
            for (int r = 0; r < n; r++) {
                int o = r * c;
                double rr = rrms[r];
                dys.read(o, dyr, c);
                xs.read(o, xr, c);
                for (int j = 0; j < c; j++) {
                    sg[j] += dyr[j] * xr[j] * rr;
                }
            }
            Dense.of(dGamma).write(0, sg, c);
        }
    }
}
