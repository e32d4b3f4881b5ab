package io.fedlora.agent.model.ops;

import io.fedlora.agent.model.ops.Blas.Region;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Causal scaled-dot-product attention over row-major activations {@code [batch·seq, heads·headDim]}, with
 * {@code nKvHead} key/value heads shared by groups of {@code nHead / nKvHead} query heads (grouped-query attention;
 * GPT-2 has {@code nKvHead == nHead}). q, k and v are {@link Region}s, so they can be column slices of one fused qkv
 * projection: no head is ever permuted or copied. Work is split over (batch, kv head) pairs on the pool; each query
 * row block computes scores only against the keys it may see (the causal mask is a loop bound, not an additive
 * mask). The forward keeps only each row's log-sum-exp: backward recomputes the probabilities from q and k (one GEMM
 * per block) instead of holding {@code batch·heads·seq²} probabilities, the largest activation at long contexts.
 */
public final class CausalAttention {

    /** Query rows per block. */
    static final int BLOCK = 64;

    private final int batch;
    private final int seq;
    private final int nHead;
    private final int nKvHead;
    private final int headDim;

    public CausalAttention(int batch, int seq, int nHead, int nKvHead, int headDim) {
        if (nHead % nKvHead != 0) {
            throw new IllegalArgumentException(nHead + " query heads are not a multiple of " + nKvHead + " key/value heads");
        }
        this.batch = batch;
        this.seq = seq;
        this.nHead = nHead;
        this.nKvHead = nKvHead;
        this.headDim = headDim;
    }

    /** Rough element-operations of one (batch, kv head) task's forward: the causal score and value products, the softmax. */
    private long taskWork(int group) {
        return (long) group * seq * seq * (headDim + 10);
    }

    private double scale() {
        return 1.0 / Math.sqrt(headDim);
    }

    /** Writes the attention output into {@code y}; returns the per-(batch, head, row) log-sum-exp for backward. */
    public double[] forward(Region q, Region k, Region v, Region y, Parallel par) {
        DataType type = y.array().dataType();
        int blk = Math.min(BLOCK, seq);
        INDArray scratch = Tensors.empty(type, par.threads(), (long) blk * seq);
        Dense sc = Dense.of(scratch);
        boolean fast = sc.single();
        double[] lse = new double[batch * nHead * seq];
        int group = nHead / nKvHead;
        double scale = scale();
        par.exclusiveRun(() -> par.forRanges(batch * nKvHead, par.minItems(taskWork(group)), (part, from, to) -> {
            Region s = new Region(scratch, (long) part * blk * seq, seq);
            int so = part * blk * seq;
            double[] row = new double[seq];
            float[] st = sc.stage(seq);
            for (int task = from; task < to; task++) {
                int b = task / nKvHead;
                int kvh = task % nKvHead;
                long row0 = (long) b * seq;
                Region kb = k.at(row0, (long) kvh * headDim);
                Region vb = v.at(row0, (long) kvh * headDim);
                for (int qh = kvh * group; qh < (kvh + 1) * group; qh++) {
                    for (int i0 = 0; i0 < seq; i0 += blk) {
                        int bi = Math.min(blk, seq - i0);
                        int keys = i0 + bi;
                        Blas.gemm(false, true, bi, keys, headDim, scale, q.at(row0 + i0, (long) qh * headDim), kb, 0.0, s);
                        for (int ii = 0; ii < bi; ii++) {
                            int i = i0 + ii;
                            int o = so + ii * seq;
                            int seen = i + 1;
                            sc.read(o, row, seen, st);
                            double max = FastExp.max(row, seen);
                            double sum = FastExp.expShiftedSum(row, seen, max, fast);
                            double inv = 1.0 / sum;
                            for (int j = 0; j < seen; j++) {
                                row[j] *= inv;
                            }
                            java.util.Arrays.fill(row, seen, keys, 0.0);
                            sc.write(o, row, keys, st);
                            lse[(b * nHead + qh) * seq + i] = max + Math.log(sum);
                        }
                        Blas.gemm(false, false, bi, headDim, keys, 1.0, s, vb, 0.0, y.at(row0 + i0, (long) qh * headDim));
                    }
                }
            }
        }));
        return lse;
    }

    /**
     * Gradients of q, k and v from the output gradient. {@code dk} and {@code dv} are accumulated into and must start
     * at zero; {@code dq} is overwritten.
     */
    public void backward(Region dy, Region q, Region k, Region v, double[] lse, Region dq, Region dk, Region dv, Parallel par) {
        DataType type = dy.array().dataType();
        int blk = Math.min(BLOCK, seq);
        INDArray scratch = Tensors.empty(type, 2L * par.threads(), (long) blk * seq);
        Dense sc = Dense.of(scratch);
        boolean fast = sc.single();
        int group = nHead / nKvHead;
        double scale = scale();
        par.exclusiveRun(() -> par.forRanges(batch * nKvHead, par.minItems(3 * taskWork(group)), (part, from, to) -> {
            int po = 2 * part * blk * seq;
            int dpo = po + blk * seq;
            Region p = new Region(scratch, po, seq);
            Region dp = new Region(scratch, dpo, seq);
            double[] prow = new double[seq];
            double[] drow = new double[seq];
            float[] st = sc.stage(seq);
            for (int task = from; task < to; task++) {
                int b = task / nKvHead;
                int kvh = task % nKvHead;
                long row0 = (long) b * seq;
                long kvCol = (long) kvh * headDim;
                for (int qh = kvh * group; qh < (kvh + 1) * group; qh++) {
                    long qCol = (long) qh * headDim;
                    for (int i0 = 0; i0 < seq; i0 += blk) {
                        int bi = Math.min(blk, seq - i0);
                        int keys = i0 + bi;
                        Blas.gemm(false, true, bi, keys, headDim, scale, q.at(row0 + i0, qCol), k.at(row0, kvCol), 0.0, p);
                        Blas.gemm(false, true, bi, keys, headDim, 1.0, dy.at(row0 + i0, qCol), v.at(row0, kvCol), 0.0, dp);
                        for (int ii = 0; ii < bi; ii++) {
                            int i = i0 + ii;
                            int o = po + ii * seq;
                            int od = dpo + ii * seq;
                            int seen = i + 1;
                            sc.read(o, prow, seen, st);
                            sc.read(od, drow, seen, st);
                            FastExp.expShiftedSum(prow, seen, lse[(b * nHead + qh) * seq + i], fast);
                            double dot = RowSums.dot(prow, drow, seen);
                            for (int j = 0; j < seen; j++) {
                                drow[j] = prow[j] * (drow[j] - dot) * scale;
                            }
                            java.util.Arrays.fill(prow, seen, keys, 0.0);
                            java.util.Arrays.fill(drow, seen, keys, 0.0);
                            sc.write(o, prow, keys, st);
                            sc.write(od, drow, keys, st);
                        }
                        Blas.gemm(true, false, keys, headDim, bi, 1.0, p, dy.at(row0 + i0, qCol), 1.0, dv.at(row0, kvCol));
                        Blas.gemm(false, false, bi, headDim, keys, 1.0, dp, k.at(row0, kvCol), 0.0, dq.at(row0 + i0, qCol));
                        Blas.gemm(true, false, keys, headDim, bi, 1.0, dp, q.at(row0 + i0, qCol), 1.0, dk.at(row0, kvCol));
                    }
                }
            }
        }));
    }
}
