package io.fedlora.agent.model.ops;

import io.fedlora.agent.model.ops.Blas.Region;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The LM head and the weighted mean token cross-entropy fused, in row chunks: logits {@code h·Wᵀ} for a chunk of
 * rows are computed into one reused scratch block, turned into the loss and, in place, into their own gradient
 * {@code (softmax − onehot)·w/count}, and pushed straight back through the head ({@code dh = dLogits·W},
 * {@code dW += dLogitsᵀ·h}). The full {@code [rows, vocab]} logits (200 MB at GPT-2's vocabulary and 1024 rows)
 * never exist. {@code W} is {@code [vocab, c]} (tied {@code wte} or an untied {@code lm_head}).
 */
public final class LmHeadLoss {

    /**
     * Largest scratch block of logits, in elements (128 MB of fp32). Each chunk streams the whole head through both
     * GEMMs (154 MB at GPT-2's vocabulary), so larger chunks amortise that and OpenBLAS's packing of it over more rows:
     * on GPT-2-small's 1024 rows, 2 chunks of 512 ran the head's GEMMs at 75-98 GFLOP/s where 7 of 166 (a 32 MB
     * block) got 51-69, for 71 MB more scratch.
     */
    static final long CHUNK_ELEMENTS = 1L << 25;

    private LmHeadLoss() {
    }

    /**
     * Returns the weighted sum of the per-token losses (divide by {@code count} for the mean).
     *
     * @param targets target id per row (ignored where the weight is 0)
     * @param weights loss weight per row
     * @param count   the divisor of the mean (sum of the weights)
     * @param dh      receives dLoss/dh when non-null (then the gradient is computed)
     * @param dW      accumulates dLoss/dW when non-null
     */
    public static double forward(INDArray h, INDArray w, int[] targets, float[] weights, double count, INDArray dh,
                                 INDArray dW, Parallel par) {
        return forward(h, w, targets, weights, count, dh, dW, par, chunkRows((int) h.size(0), (int) w.size(0)));
    }

    /**
     * Rows per chunk: as few chunks as {@link #CHUNK_ELEMENTS} allows, of equal size (1024 rows at GPT-2's vocabulary
     * are two chunks of 512, not 667 and a slower 357).
     */
    static int chunkRows(int rows, int vocab) {
        int most = (int) Math.max(1, Math.min(Integer.MAX_VALUE, CHUNK_ELEMENTS / Math.max(1, vocab)));
        int chunks = (rows + most - 1) / most;
        return chunks <= 1 ? Math.max(1, rows) : (rows + chunks - 1) / chunks;
    }

    /** As {@link #forward(INDArray, INDArray, int[], float[], double, INDArray, INDArray, Parallel)} in chunks of {@code chunkRows} rows. */
    static double forward(INDArray h, INDArray w, int[] targets, float[] weights, double count, INDArray dh,
                          INDArray dW, Parallel par, int chunkRows) {
        int n = (int) h.size(0);
        int c = (int) h.size(1);
        int vocab = (int) w.size(0);
        DataType type = h.dataType();
        int chunk = Math.max(1, Math.min(n, chunkRows));
        INDArray logits = Tensors.empty(type, chunk, vocab);
        Dense ls = Dense.of(logits);
        boolean fast = ls.single();
        double total = 0;
        double[] rowLoss = new double[chunk];
        for (int r0 = 0; r0 < n; r0 += chunk) {
            int rows = Math.min(chunk, n - r0);
            int base = r0;
            Region lr = Region.of(logits);
            Blas.gemm(par, false, true, rows, vocab, c, 1.0, Region.of(h).at(r0, 0), Region.of(w), 0.0, lr);
            boolean grad = dh != null;
            par.forRanges(rows, par.minItems(16L * vocab), (part, from, to) -> {
                double[] v = new double[vocab];
                float[] st = ls.stage(vocab);
                for (int ii = from; ii < to; ii++) {
                    int row = base + ii;
                    int o = ii * vocab;
                    float wt = weights[row];
                    ls.read(o, v, vocab, st);
                    double max = FastExp.max(v, vocab);
                    double targetLogit = wt != 0f ? v[targets[row]] : 0;
                    double sum = FastExp.expShiftedSum(v, vocab, max, fast);
                    rowLoss[ii] = 0;
                    if (wt != 0f) {
                        rowLoss[ii] = wt * (Math.log(sum) - (targetLogit - max));
                    }
                    if (grad) {
                        double f = wt / count / sum;
                        for (int j = 0; j < vocab; j++) {
                            v[j] *= f;
                        }
                        if (wt != 0f) {
                            v[targets[row]] -= wt / count;
                        }
                        ls.write(o, v, vocab, st);
                    }
                }
            });
            for (int ii = 0; ii < rows; ii++) {
                total += rowLoss[ii];
            }
            if (dh != null) {
                Blas.gemm(par, false, false, rows, c, vocab, 1.0, lr, Region.of(w), 0.0, Region.of(dh).at(r0, 0));
                if (dW != null) {
                    Blas.gemm(par, true, false, vocab, c, rows, 1.0, lr, Region.of(h).at(r0, 0), 1.0, Region.of(dW));
                }
            }
        }
        return total;
    }

    /** The weighted sum of the per-token losses of materialised logits {@code [rows, vocab]} (exact exp and log). */
    public static double ofLogits(INDArray logits, int[] targets, float[] weights) {
        int vocab = (int) logits.size(1);
        Dense l = Dense.of(logits);
        double[] v = new double[vocab];
        double total = 0;
        for (int r = 0; r < targets.length; r++) {
            if (weights[r] == 0f) {
                continue;
            }
            l.read(r * vocab, v, vocab);
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < vocab; j++) {
                max = Math.max(max, v[j]);
            }
            double sum = 0;
            for (int j = 0; j < vocab; j++) {
                sum += Math.exp(v[j] - max);
            }
            total += weights[r] * (Math.log(sum) - (v[targets[r]] - max));
        }
        return total;
    }

    /** Checks every weighted target id against the vocabulary. */
    public static void checkTargets(int[] targets, float[] weights, int vocab) {
        for (int i = 0; i < targets.length; i++) {
            if (weights[i] != 0f && (targets[i] < 0 || targets[i] >= vocab)) {
                throw new IllegalArgumentException("target id " + targets[i] + " outside the vocabulary of " + vocab);
            }
        }
    }
}
