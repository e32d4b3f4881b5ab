package io.fedlora.aggregation.strategy;

import io.fedlora.aggregation.lora.LayoutGemm;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraLayer;
import io.fedlora.aggregation.lora.OffHeap;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Streaming state of one layer in one round. Weights are only known at the end (they are normalised by the total
 * example count), so everything is accumulated with the raw weights {@code c_i} and normalised in {@link #finish}.
 *
 * <ul>
 *   <li>Always: {@code sum c_i A_i} and {@code sum c_i B_i} ({@code r x (d_in + d_out)} numbers).</li>
 *   <li>Factor mode: the raw {@code A_i, B_i} themselves, off the heap ({@link FactorStore}); at the end they are
 *       centred on the means and stacked into {@code U = [B_i - B']}, {@code V = [w_i (A_i - A')]} (inner dimension
 *       {@code n*r}), the numerically better form of the residual (no cancellation between two large products).</li>
 *   <li>Dense mode (once {@code n*r*(d_out+d_in) >= d_out*d_in}): one matrix {@code D = sum c_i B_i A_i} in the
 *       layer's layout, one GEMM per arriving client; at the end {@code R = D/C - B'A'} (a GEMM with
 *       {@code beta = 1/C}).</li>
 * </ul>
 * Storage therefore never exceeds {@code min(n*r*(d_out+d_in), d_out*d_in)} plus the two sums; only while
 * {@link #finish} builds {@code U, V} do they coexist briefly with the stored factors (freed once both are built).
 *
 * <p>The per-client work on the small factors (validation, sums, centring, stacking) is plain Java over
 * {@code float[]}/{@code double[]}: it is memory-bound and tiny next to the GEMM, and running it as dozens of
 * separate native ops costs far more in per-op and thread-pool overhead than the arithmetic itself. The sums are
 * kept in double. The only heavy operations (the residual GEMM, the dense accumulator) go to BLAS.
 */
final class LayerAccumulator {

    private final LoraLayer layer;
    private final StrategyRule rule;
    private final boolean keepResidualState;
    private final boolean checkMetrics;
    private final AccumulatorMode mode;
    private final int r;
    private final int dOut;
    private final int dIn;
    private final double[] sumA;
    private final double[] sumB;
    private double total;
    private int count;
    private float[] frozenA;
    private final FactorStore stored;
    private final List<Integer> storedSlot = new ArrayList<>();
    private final List<Double> storedWeight = new ArrayList<>();
    private final List<String> storedKey = new ArrayList<>();
    private INDArray dense;

    /** A validated client's factors, copied to c-order {@code float[]} ({@code A: r x d_in}, {@code B: d_out x r}). */
    record Prepared(float[] a, float[] b) {
    }

    LayerAccumulator(LoraLayer layer, StrategyRule rule, boolean checkMetrics, AccumulatorMode mode, INDArray frozenA) {
        this.layer = layer;
        this.rule = rule;
        this.checkMetrics = checkMetrics;
        this.keepResidualState = !rule.frozenA() && (rule.foldResidual() || checkMetrics);
        this.mode = mode;
        this.r = layer.rank();
        this.dOut = layer.dOut();
        this.dIn = layer.dIn();
        this.sumA = new double[r * dIn];
        this.sumB = new double[dOut * r];
        this.stored = new FactorStore(r * dIn, dOut * r);
        this.frozenA = frozenA == null ? null : floats(frozenA);
        if (mode == AccumulatorMode.DENSE && keepResidualState) {
            dense = Nd4j.zeros(DataType.FLOAT, layer.baseShape());
        }
    }

    LoraLayer layer() {
        return layer;
    }

    /** Numbers currently held for the residual: stored factors, or the dense accumulator. */
    long residualStateElements() {
        return dense != null ? dense.length() : (long) storedSlot.size() * r * ((long) dOut + dIn);
    }

    /** Every number this layer retains: the two sums, the frozen A (FFA) and the residual state. */
    long retainedElements() {
        return sumA.length + sumB.length + (frozenA == null ? 0 : frozenA.length) + residualStateElements();
    }

    /** Checks one client's factors for this layer without changing any state, and copies them out. */
    Prepared validate(String clientId, LoraFactors f) {
        try {
            f.checkFits(layer, "client " + clientId);
        } catch (IllegalArgumentException e) {
            throw new InvalidUpdateException(clientId, layer.module(), e.getMessage());
        }
        float[] a = floats(f.a());
        float[] b = floats(f.b());
        if (!allFinite(a) || !allFinite(b)) {
            throw new InvalidUpdateException(clientId, layer.module(), "factors contain NaN or infinite values");
        }
        if (rule.frozenA() && frozenA != null) {
            double diff = 0;
            for (int i = 0; i < a.length; i++) {
                diff = Math.max(diff, Math.abs(a[i] - frozenA[i]));
            }
            if (diff > 1e-6) {
                throw new InvalidUpdateException(clientId, layer.module(), "FFA needs the frozen A unchanged, but this"
                        + " client's A differs from the round's A by up to " + diff);
            }
        }
        return new Prepared(a, b);
    }

    /**
     * Folds in one validated client's factors with raw weight {@code c}; {@code key} (the client id) fixes the
     * order in which stored factors are summed at the end, whatever order they arrived in.
     */
    void add(String key, Prepared p, double c) {
        if (rule.frozenA() && frozenA == null) {
            frozenA = p.a();
        }
        addScaled(sumA, p.a(), c);
        addScaled(sumB, p.b(), c);
        total += c;
        count++;
        if (!keepResidualState) {
            return;
        }
        if (dense == null && mode == AccumulatorMode.AUTO && factorStorageAfter(count) >= (long) dOut * dIn) {
            switchToDense();
        }
        if (dense != null) {
            addProductReleasing(dense, p.b(), p.a(), c);
        } else {
            storedSlot.add(stored.add(p.a(), p.b()));
            storedWeight.add(c);
            storedKey.add(key);
        }
    }

    /**
     * Factor mode only: puts the stored factors in key order and recomputes the sums from them in that order, so the
     * result is bit for bit the one of adding the same updates in key order, however they arrived.
     */
    private void canonicalise() {
        if (dense != null || storedSlot.isEmpty()) {
            return;
        }
        Integer[] order = new Integer[storedSlot.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, (x, y) -> ClientOrder.compare(storedKey.get(x), storedKey.get(y)));
        List<Integer> slots = new ArrayList<>();
        List<Double> w = new ArrayList<>();
        List<String> k = new ArrayList<>();
        java.util.Arrays.fill(sumA, 0.0);
        java.util.Arrays.fill(sumB, 0.0);
        total = 0;
        for (int i : order) {
            int slot = storedSlot.get(i);
            slots.add(slot);
            w.add(storedWeight.get(i));
            k.add(storedKey.get(i));
            addScaled(sumA, stored.a(slot), storedWeight.get(i));
            addScaled(sumB, stored.b(slot), storedWeight.get(i));
            total += storedWeight.get(i);
        }
        storedSlot.clear();
        storedSlot.addAll(slots);
        storedWeight.clear();
        storedWeight.addAll(w);
        storedKey.clear();
        storedKey.addAll(k);
    }

    private long factorStorageAfter(int clients) {
        return (long) clients * r * ((long) dOut + dIn);
    }

    private void switchToDense() {
        dense = Nd4j.zeros(DataType.FLOAT, layer.baseShape());
        for (int i = 0; i < storedSlot.size(); i++) {
            int slot = storedSlot.get(i);
            addProductReleasing(dense, stored.b(slot), stored.a(slot), storedWeight.get(i));
        }
        clearStored();
    }

    private void clearStored() {
        stored.clear();
        storedSlot.clear();
        storedWeight.clear();
        storedKey.clear();
    }

    /** Frees the off-heap state now (stored factors, dense sum) for a round that ends without {@link #finish}. */
    void release() {
        clearStored();
        if (dense != null) {
            OffHeap.release(dense);
        }
        dense = null;
    }

    /** Result of one layer: new global factors, the residual (if any) and the metric's norms. */
    record Outcome(LoraFactors global, Residual residual, Check check) {
    }

    /** Frobenius norms behind the metrics: error, reference and residual ({@code s*||R||}). */
    record Check(double error, double reference, double deviation) {
        LayerMetrics metrics() {
            return new LayerMetrics(error / reference, deviation / reference);
        }
    }

    Outcome finish(INDArray base) {
        canonicalise();
        double s = layer.scaling().scale();
        float[] meanB = scaled(sumB, 1.0 / total);
        float[] meanA = rule.frozenA() ? frozenA.clone() : scaled(sumA, 1.0 / total);
        INDArray meanAArr = matrix(meanA, r, dIn);
        INDArray meanBArr = matrix(meanB, dOut, r);
        LoraFactors global = new LoraFactors(meanAArr, meanBArr);

        INDArray target = null;
        if (checkMetrics) {
            // Independent path to sum w_i (W0 + s B_i A_i): raw per-client products, never the centred factors.
            target = base == null ? Nd4j.zeros(DataType.FLOAT, layer.baseShape()) : f32(base).dup('c');
            if (rule.frozenA()) {
                LayoutGemm.addProduct(target, layer.layout(), matrix(scaled(sumB, 1.0), dOut, r), matrix(frozenA, r, dIn),
                        s / total, 1.0);
            } else if (dense != null) {
                // a 7 MB temporary per GPT-2 c_attn layer: freed now, not at a full collection (both of these
                // temporaries stayed off-heap each round once the sum was dense, ~170 MB for GPT-2-small)
                INDArray scaledSum = dense.mul(s / total);
                target.addi(scaledSum);
                scaledSum.close();
            } else {
                for (int i = 0; i < storedSlot.size(); i++) {
                    int slot = storedSlot.get(i);
                    addProductReleasing(target, stored.b(slot), stored.a(slot), s * storedWeight.get(i) / total);
                }
            }
        }

        Residual residual = keepResidualState ? residual(meanAArr, meanBArr, meanA, meanB, s) : null;

        Check check = null;
        if (checkMetrics) {
            INDArray published = base == null ? Nd4j.zeros(DataType.FLOAT, layer.baseShape()) : f32(base).dup('c');
            if (rule.foldResidual()) {
                residual.foldInto(published, layer.layout());
            }
            LayoutGemm.addProduct(published, layer.layout(), meanBArr, meanAArr, s, 1.0);
            double err = published.distance2(target);
            double ref = target.norm2Number().doubleValue();
            double dev = residual == null ? 0.0 : residualNorm(residual);
            check = new Check(err, ref, dev);
            published.close();
            target.close();
        }
        return new Outcome(global, rule.foldResidual() ? residual : null, check);
    }

    private Residual residual(INDArray meanAArr, INDArray meanBArr, float[] meanA, float[] meanB, double s) {
        if (dense != null) {
            // D <- D/C - B'A', then scale: R in the layer's own layout, no transposed copy.
            LayoutGemm.addProduct(dense, layer.layout(), meanBArr, meanAArr, -1.0, 1.0 / total);
            dense.muli(s);
            Residual res = Residual.ofScaledDense(dense, layer.layout(), s);
            dense = null;
            return res;
        }
        int n = storedSlot.size();
        int k = n * r;
        // U = [B_1-B' ... B_n-B'] (d_out x k) and V = [w_1(A_1-A'); ...; w_n(A_n-A')] (k x d_in), both row-major,
        // written row by row straight into the arrays' native buffers (no second whole-matrix copy).
        INDArray uArr = Nd4j.createUninitialized(DataType.FLOAT, new long[] {dOut, k}, 'c');
        INDArray vArr = Nd4j.createUninitialized(DataType.FLOAT, new long[] {k, dIn}, 'c');
        FloatBuffer uBuf = uArr.data().asNio().order(ByteOrder.nativeOrder()).asFloatBuffer();
        FloatBuffer vBuf = vArr.data().asNio().order(ByteOrder.nativeOrder()).asFloatBuffer();
        float[] row = new float[Math.max(k, dIn)];
        for (int i = 0; i < n; i++) {
            FloatBuffer a = stored.a(storedSlot.get(i));
            double w = storedWeight.get(i) / total;
            for (int j = 0; j < r; j++) {
                int src = j * dIn;
                for (int q = 0; q < dIn; q++) {
                    row[q] = (float) (w * ((double) a.get(src + q) - meanA[src + q]));
                }
                vBuf.put(row, 0, dIn);
            }
        }
        FloatBuffer[] bs = new FloatBuffer[n];
        for (int i = 0; i < n; i++) {
            bs[i] = stored.b(storedSlot.get(i));
        }
        for (int o = 0; o < dOut; o++) {
            int src = o * r;
            for (int i = 0; i < n; i++) {
                FloatBuffer b = bs[i];
                int dst = i * r;
                for (int j = 0; j < r; j++) {
                    row[dst + j] = b.get(src + j) - meanB[src + j];
                }
            }
            uBuf.put(row, 0, k);
        }
        clearStored();
        return Residual.ofFactors(uArr, vArr, s);
    }

    /** {@code ||s U V||_F} via the Gram matrices, {@code sqrt(sum((U^T U) .* (V V^T)))}: k x k work, not d x k. */
    private static double residualNorm(Residual res) {
        if (!res.hasFactors()) {
            INDArray d = res.dense(io.fedlora.aggregation.lora.WeightLayout.LINEAR);
            double norm = d.norm2Number().doubleValue();
            d.close();
            return norm;
        }
        INDArray u = res.u().castTo(DataType.DOUBLE);
        INDArray v = res.v().castTo(DataType.DOUBLE);
        INDArray gu = u.transpose().mmul(u);
        INDArray gv = v.mmul(v.transpose());
        double sq = gu.mul(gv).sumNumber().doubleValue();
        return Math.abs(res.scale()) * Math.sqrt(Math.max(0.0, sq));
    }

    private static void addScaled(double[] acc, float[] x, double c) {
        for (int i = 0; i < acc.length; i++) {
            acc[i] += c * x[i];
        }
    }

    private static void addScaled(double[] acc, FloatBuffer x, double c) {
        for (int i = 0; i < acc.length; i++) {
            acc[i] += c * x.get(i);
        }
    }

    private static float[] scaled(double[] x, double c) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = (float) (x[i] * c);
        }
        return out;
    }

    private static boolean allFinite(float[] x) {
        for (float f : x) {
            if (!Float.isFinite(f)) {
                return false;
            }
        }
        return true;
    }

    /** A c-order fp32 copy of a matrix's values. */
    static float[] floats(INDArray x) {
        INDArray c = x.dataType() == DataType.FLOAT ? x : x.castTo(DataType.FLOAT);
        if (c.isView() || c.ordering() != 'c' || c.offset() != 0 || c.data().length() != c.length()) {
            c = c.dup('c');
        }
        float[] out = new float[Math.toIntExact(c.length())];
        c.data().asNio().order(ByteOrder.nativeOrder()).asFloatBuffer().get(out);
        return out;
    }

    /**
     * {@code dense += c * B·A} through two temporary off-heap copies of the factors, freed at once: left to the garbage
     * collector, a thousand clients' folds left ~1 MB each of native memory behind until a collection that a quiet
     * heap rarely needs, and the process's resident memory grew with the number of clients.
     */
    private void addProductReleasing(INDArray target, float[] b, float[] a, double c) {
        addProductReleasing(target, FloatBuffer.wrap(b), FloatBuffer.wrap(a), c);
    }

    private void addProductReleasing(INDArray target, FloatBuffer b, FloatBuffer a, double c) {
        INDArray bm = matrix(b, dOut, r);
        INDArray am = matrix(a, r, dIn);
        try {
            LayoutGemm.addProduct(target, layer.layout(), bm, am, c, 1.0);
        } finally {
            bm.close();
            am.close();
        }
    }

    private static INDArray matrix(float[] values, int rows, int cols) {
        return Nd4j.create(values, new long[] {rows, cols}, 'c');
    }

    /** An off-heap copy of {@code values} (from index 0), made without a heap array. */
    private static INDArray matrix(FloatBuffer values, int rows, int cols) {
        INDArray m = Nd4j.createUninitialized(DataType.FLOAT, new long[] {rows, cols}, 'c');
        FloatBuffer dst = m.data().asNio().order(ByteOrder.nativeOrder()).asFloatBuffer();
        dst.put(values.duplicate().position(0).limit(rows * cols));
        return m;
    }

    private static INDArray f32(INDArray x) {
        return x.dataType() == DataType.FLOAT ? x : x.castTo(DataType.FLOAT);
    }
}
