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
 * mask). The forward keeps each row's log-sum-exp, and where {@link #keepsProbabilities} (short contexts, fp32) also the
 * probabilities themselves: backward then needs no recomputation; at long contexts it recomputes them from q and k
 * (one GEMM per block) instead of holding {@code batch·heads·seq²} probabilities, the largest activation there.
 *
 * <p>fp32 arrays take a block path: each score block is copied out of native memory once, the exponentials of all its
 * causal rows are taken in one loop over a packed array (so the loop is long enough for the JIT's SIMD code, where
 * rows of a short context run mostly in its scalar pre- and post-loops), and the block is written back once. Element
 * for element it computes what the row path computes (same fp64 arithmetic, same summation order); the fp64 arrays of
 * the gradient checks keep the row path.
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

    /**
     * Most probabilities ({@code batch·heads·seq²}) a pass keeps for backward: 2^21 fp32 elements, 8 MB per layer
     * (init-model's 8 × 64 tokens, 4 heads: 131,072); longer contexts recompute them.
     */
    static final long KEEP_LIMIT = 1L << 21;

    /** Whether backward should get the forward's probabilities ({@link #probabilityShape}) rather than recompute them. */
    public boolean keepsProbabilities(DataType type) {
        return type == DataType.FLOAT && (long) batch * nHead * seq * seq <= KEEP_LIMIT;
    }

    /** Rows and columns of the probability array for {@link #forward(Region, Region, Region, Region, INDArray, Parallel)}. */
    public long[] probabilityShape() {
        return new long[]{(long) batch * nHead * seq, seq};
    }

    /** Writes the attention output into {@code y}; returns the per-(batch, head, row) log-sum-exp for backward. */
    public double[] forward(Region q, Region k, Region v, Region y, Parallel par) {
        return forward(q, k, v, y, null, par);
    }

    /**
     * As {@link #forward(Region, Region, Region, Region, Parallel)}, also writing the probabilities into {@code probs}
     * when it is non-null (fp32, {@link #probabilityShape}; row {@code (b·heads + h)·seq + i}, zero above the diagonal
     * up to the end of the row's query block) for {@link #backward}.
     */
    public double[] forward(Region q, Region k, Region v, Region y, INDArray probs, Parallel par) {
        DataType type = y.array().dataType();
        if (type == DataType.FLOAT) {
            return forwardF32(q, k, v, y, probs, par);
        }
        if (probs != null) {
            throw new IllegalArgumentException("attention keeps probabilities on fp32 arrays only");
        }
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
        backward(dy, q, k, v, lse, null, dq, dk, dv, par);
    }

    /** As {@link #backward(Region, Region, Region, Region, double[], Region, Region, Region, Parallel)} with the forward's probabilities when {@code probs} is non-null. */
    public void backward(Region dy, Region q, Region k, Region v, double[] lse, INDArray probs, Region dq, Region dk, Region dv,
                         Parallel par) {
        DataType type = dy.array().dataType();
        if (type == DataType.FLOAT) {
            backwardF32(dy, q, k, v, lse, probs, dq, dk, dv, par);
            return;
        }
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

    private static Dense.F32 f32(INDArray a) {
        return (Dense.F32) Dense.of(a);
    }

    /** The offset of query block {@code i0}'s first row in the probability array of (batch b, head h). */
    private long probOffset(int b, int h, int i0) {
        return (((long) b * nHead + h) * seq + i0) * seq;
    }

    /**
     * Softmax of a score block {@code sf} ({@code bi} rows of width {@code seq}, query rows from {@code i0}) in place:
     * the causal part of each row shifted by its maximum into the packed {@code t}, one exponential loop over all of
     * it, then each row normalised back into {@code sf} as fp32 and zeroed from the diagonal to the row's end; the
     * rows' log-sum-exps go to {@code lse} from {@code lseAt}. With {@code fromLse} the rows are shifted by the
     * given log-sum-exps instead (backward's recomputation), which normalises them already.
     */
    private void softmaxBlock(float[] sf, double[] t, double[] rowMax, int i0, int bi, double[] lse, int lseAt, boolean fromLse) {
        int pos = 0;
        for (int ii = 0; ii < bi; ii++) {
            int o = ii * seq;
            int seen = i0 + ii + 1;
            double m;
            if (fromLse) {
                m = lse[lseAt + ii];
            } else {
                float mf = sf[o];
                for (int j = 1; j < seen; j++) {
                    mf = Math.max(mf, sf[o + j]);
                }
                m = mf;
                rowMax[ii] = m;
            }
            for (int j = 0; j < seen; j++) {
                t[pos + j] = sf[o + j] - m;
            }
            pos += seen;
        }
        for (int j = 0; j < pos; j++) {
            t[j] = FastExp.exp(t[j]);
        }
        pos = 0;
        for (int ii = 0; ii < bi; ii++) {
            int o = ii * seq;
            int seen = i0 + ii + 1;
            if (fromLse) {
                for (int j = 0; j < seen; j++) {
                    sf[o + j] = (float) t[pos + j];
                }
            } else {
                double sum = RowSums.sum(t, pos, seen);
                double inv = 1.0 / sum;
                for (int j = 0; j < seen; j++) {
                    sf[o + j] = (float) (t[pos + j] * inv);
                }
                lse[lseAt + ii] = rowMax[ii] + Math.log(sum);
            }
            java.util.Arrays.fill(sf, o + seen, o + seq, 0f);
            pos += seen;
        }
    }

    private double[] forwardF32(Region q, Region k, Region v, Region y, INDArray probs, Parallel par) {
        int blk = Math.min(BLOCK, seq);
        INDArray scratch = Tensors.empty(DataType.FLOAT, par.threads(), (long) blk * seq);
        Dense.F32 sc = f32(scratch);
        Dense.F32 pk = probs == null ? null : f32(probs);
        double[] lse = new double[batch * nHead * seq];
        int group = nHead / nKvHead;
        double scale = scale();
        par.exclusiveRun(() -> par.forRanges(batch * nKvHead, par.minItems(taskWork(group)), (part, from, to) -> {
            Region s = new Region(scratch, (long) part * blk * seq, seq);
            int so = part * blk * seq;
            float[] sf = new float[blk * seq];
            double[] t = new double[blk * seq];
            double[] rowMax = new double[blk];
            Blas.F32Operand pq = new Blas.F32Operand(q.array());
            Blas.F32Operand pkk = new Blas.F32Operand(k.array());
            Blas.F32Operand pv = new Blas.F32Operand(v.array());
            Blas.F32Operand py = new Blas.F32Operand(y.array());
            Blas.F32Operand ps = new Blas.F32Operand(scratch);
            Blas.F32Operand pp = probs == null ? ps : new Blas.F32Operand(probs);
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
                        Blas.sgemm(false, true, bi, keys, headDim, (float) scale, pq, q.at(row0 + i0, (long) qh * headDim), pkk, kb, 0f,
                                ps, s);
                        sc.getFloats(so, sf, bi * seq);
                        softmaxBlock(sf, t, rowMax, i0, bi, lse, (b * nHead + qh) * seq + i0, false);
                        Region p = s;
                        if (pk != null) {
                            long po = probOffset(b, qh, i0);
                            pk.putFloats((int) po, sf, bi * seq);
                            p = new Region(probs, po, seq);
                        } else {
                            sc.putFloats(so, sf, bi * seq);
                        }
                        Blas.sgemm(false, false, bi, headDim, keys, 1f, pp, p, pv, vb, 0f, py, y.at(row0 + i0, (long) qh * headDim));
                    }
                }
            }
        }));
        return lse;
    }

    private void backwardF32(Region dy, Region q, Region k, Region v, double[] lse, INDArray probs, Region dq, Region dk, Region dv,
                             Parallel par) {
        int blk = Math.min(BLOCK, seq);
        INDArray scratch = Tensors.empty(DataType.FLOAT, 2L * par.threads(), (long) blk * seq);
        Dense.F32 sc = f32(scratch);
        Dense.F32 pk = probs == null ? null : f32(probs);
        int group = nHead / nKvHead;
        double scale = scale();
        par.exclusiveRun(() -> par.forRanges(batch * nKvHead, par.minItems(3 * taskWork(group)), (part, from, to) -> {
            int po = 2 * part * blk * seq;
            int dpo = po + blk * seq;
            Region ps = new Region(scratch, po, seq);
            Region dp = new Region(scratch, dpo, seq);
            float[] pf = new float[blk * seq];
            float[] df = new float[blk * seq];
            double[] t = new double[blk * seq];
            Blas.F32Operand opq = new Blas.F32Operand(q.array());
            Blas.F32Operand opk = new Blas.F32Operand(k.array());
            Blas.F32Operand opv = new Blas.F32Operand(v.array());
            Blas.F32Operand opdy = new Blas.F32Operand(dy.array());
            Blas.F32Operand opdq = new Blas.F32Operand(dq.array());
            Blas.F32Operand opdk = new Blas.F32Operand(dk.array());
            Blas.F32Operand opdv = new Blas.F32Operand(dv.array());
            Blas.F32Operand ops = new Blas.F32Operand(scratch);
            Blas.F32Operand opdp = new Blas.F32Operand(scratch);
            Blas.F32Operand opp = probs == null ? ops : new Blas.F32Operand(probs);
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
                        Region p;
                        if (pk != null) {
                            long at = probOffset(b, qh, i0);
                            pk.getFloats((int) at, pf, bi * seq);
                            p = new Region(probs, at, seq);
                        } else {
                            Blas.sgemm(false, true, bi, keys, headDim, (float) scale, opq, q.at(row0 + i0, qCol), opk, k.at(row0, kvCol), 0f,
                                    ops, ps);
                            sc.getFloats(po, pf, bi * seq);
                            softmaxBlock(pf, t, null, i0, bi, lse, (b * nHead + qh) * seq + i0, true);
                            sc.putFloats(po, pf, bi * seq);
                            p = ps;
                        }
                        Blas.sgemm(false, true, bi, keys, headDim, 1f, opdy, dy.at(row0 + i0, qCol), opv, v.at(row0, kvCol), 0f, opdp, dp);
                        sc.getFloats(dpo, df, bi * seq);
                        for (int ii = 0; ii < bi; ii++) {
                            int o = ii * seq;
                            int seen = i0 + ii + 1;
                            double dot = RowSums.dot(pf, df, o, seen);
                            for (int j = 0; j < seen; j++) {
                                df[o + j] = (float) (pf[o + j] * (df[o + j] - dot) * scale);
                            }
                            java.util.Arrays.fill(df, o + seen, o + keys, 0f);
                        }
                        sc.putFloats(dpo, df, bi * seq);
                        Blas.sgemm(true, false, keys, headDim, bi, 1f, opp, p, opdy, dy.at(row0 + i0, qCol), 1f, opdv, dv.at(row0, kvCol));
                        Blas.sgemm(false, false, bi, headDim, keys, 1f, opdp, dp, opk, k.at(row0, kvCol), 0f, opdq, dq.at(row0 + i0, qCol));
                        Blas.sgemm(true, false, keys, headDim, bi, 1f, opdp, dp, opq, q.at(row0 + i0, qCol), 1f, opdk, dk.at(row0, kvCol));
                    }
                }
            }
        }));
    }
}
