package io.fedlora.aggregation.strategy;

import io.fedlora.aggregation.lora.LayoutGemm;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraLayer;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Streaming state of one layer in one round. Weights are only known at the end (they are normalised by the total
 * example count), so everything is accumulated with the raw weights {@code c_i} and normalised in {@link #finish}.
 *
 * <ul>
 *   <li>Always: {@code sum c_i A_i} and {@code sum c_i B_i} ({@code r x (d_in + d_out)} numbers).</li>
 *   <li>Factor mode: the raw {@code A_i, B_i} themselves; at the end they are centred on the means and stacked into
 *       {@code U = [B_i - B']}, {@code V = [w_i (A_i - A')]} (inner dimension {@code n*r}), the numerically better
 *       form of the residual (no cancellation between two large products).</li>
 *   <li>Dense mode (once {@code n*r*(d_out+d_in) >= d_out*d_in}): one matrix {@code D = sum c_i B_i A_i} in the
 *       layer's layout, one GEMM per arriving client; at the end {@code R = D/C - B'A'} (a GEMM with
 *       {@code beta = 1/C}).</li>
 * </ul>
 * Storage therefore never exceeds {@code min(n*r*(d_out+d_in), d_out*d_in)} plus the two sums.
 */
final class LayerAccumulator {

    private final LoraLayer layer;
    private final StrategyRule rule;
    private final boolean keepResidualState;
    private final boolean checkMetrics;
    private final AccumulatorMode mode;
    private final INDArray sumA;
    private final INDArray sumB;
    private double total;
    private int count;
    private INDArray frozenA;
    private final List<INDArray> storedA = new ArrayList<>();
    private final List<INDArray> storedB = new ArrayList<>();
    private final List<Double> storedWeight = new ArrayList<>();
    private INDArray dense;

    LayerAccumulator(LoraLayer layer, StrategyRule rule, boolean checkMetrics, AccumulatorMode mode, INDArray frozenA) {
        this.layer = layer;
        this.rule = rule;
        this.checkMetrics = checkMetrics;
        this.keepResidualState = !rule.frozenA() && (rule.foldResidual() || checkMetrics);
        this.mode = mode;
        this.sumA = Nd4j.zeros(DataType.FLOAT, layer.rank(), layer.dIn());
        this.sumB = Nd4j.zeros(DataType.FLOAT, layer.dOut(), layer.rank());
        this.frozenA = frozenA == null ? null : f32(frozenA).dup();
        if (mode == AccumulatorMode.DENSE && keepResidualState) {
            dense = Nd4j.zeros(DataType.FLOAT, layer.baseShape());
        }
    }

    LoraLayer layer() {
        return layer;
    }

    /** True once the residual state is a dense matrix rather than stored factors. */
    boolean isDense() {
        return dense != null;
    }

    /** Checks one client's factors for this layer without changing any state. */
    void validate(String clientId, LoraFactors f) {
        try {
            f.checkFits(layer, "client " + clientId);
        } catch (IllegalArgumentException e) {
            throw new InvalidUpdateException(clientId, layer.module(), e.getMessage());
        }
        if (!Double.isFinite(f.a().norm1Number().doubleValue()) || !Double.isFinite(f.b().norm1Number().doubleValue())) {
            throw new InvalidUpdateException(clientId, layer.module(), "factors contain NaN or infinite values");
        }
        if (rule.frozenA() && frozenA != null) {
            double diff = Transforms.abs(f32(f.a()).sub(frozenA)).maxNumber().doubleValue();
            if (diff > 1e-6) {
                throw new InvalidUpdateException(clientId, layer.module(), "FFA needs the frozen A unchanged, but this"
                        + " client's A differs from the round's A by up to " + diff);
            }
        }
    }

    /** Folds in one validated client's factors with raw weight {@code c}. */
    void add(LoraFactors f, double c) {
        INDArray a = f32(f.a());
        INDArray b = f32(f.b());
        if (rule.frozenA() && frozenA == null) {
            frozenA = a.dup();
        }
        sumA.addi(a.mul(c));
        sumB.addi(b.mul(c));
        total += c;
        count++;
        if (!keepResidualState) {
            return;
        }
        if (dense == null && mode == AccumulatorMode.AUTO && factorStorageAfter(count) >= layer.baseShape()[0] * layer.baseShape()[1]) {
            switchToDense();
        }
        if (dense != null) {
            LayoutGemm.addProduct(dense, layer.layout(), b, a, c, 1.0);
        } else {
            storedA.add(a == f.a() ? a.dup() : a);
            storedB.add(b == f.b() ? b.dup() : b);
            storedWeight.add(c);
        }
    }

    private long factorStorageAfter(int clients) {
        return (long) clients * layer.rank() * ((long) layer.dOut() + layer.dIn());
    }

    private void switchToDense() {
        dense = Nd4j.zeros(DataType.FLOAT, layer.baseShape());
        for (int i = 0; i < storedA.size(); i++) {
            LayoutGemm.addProduct(dense, layer.layout(), storedB.get(i), storedA.get(i), storedWeight.get(i), 1.0);
            storedA.get(i).close();
            storedB.get(i).close();
        }
        storedA.clear();
        storedB.clear();
        storedWeight.clear();
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
        double s = layer.scaling().scale();
        INDArray meanB = sumB.div(total);
        INDArray meanA = rule.frozenA() ? frozenA.dup() : sumA.div(total);
        LoraFactors global = new LoraFactors(meanA, meanB);

        INDArray target = null;
        if (checkMetrics) {
            target = base == null ? Nd4j.zeros(DataType.FLOAT, layer.baseShape()) : f32(base).dup('c');
            if (rule.frozenA()) {
                LayoutGemm.addProduct(target, layer.layout(), sumB, frozenA, s / total, 1.0);
            } else if (dense != null) {
                target.addi(dense.mul(s / total));
            } else {
                for (int i = 0; i < storedA.size(); i++) {
                    LayoutGemm.addProduct(target, layer.layout(), storedB.get(i), storedA.get(i),
                            s * storedWeight.get(i) / total, 1.0);
                }
            }
        }

        Residual residual = keepResidualState ? residual(meanA, meanB, s) : null;

        Check check = null;
        if (checkMetrics) {
            INDArray published = base == null ? Nd4j.zeros(DataType.FLOAT, layer.baseShape()) : f32(base).dup('c');
            if (rule.foldResidual()) {
                residual.foldInto(published, layer.layout());
            }
            LayoutGemm.addProduct(published, layer.layout(), meanB, meanA, s, 1.0);
            double err = published.distance2(target);
            double ref = target.norm2Number().doubleValue();
            double dev = residual == null ? 0.0 : residualNorm(residual);
            check = new Check(err, ref, dev);
            published.close();
            target.close();
        }
        return new Outcome(global, rule.foldResidual() ? residual : null, check);
    }

    private Residual residual(INDArray meanA, INDArray meanB, double s) {
        if (dense != null) {
            // D <- D/C - B'A', then scale: R in the layer's own layout, no transposed copy.
            LayoutGemm.addProduct(dense, layer.layout(), meanB, meanA, -1.0, 1.0 / total);
            dense.muli(s);
            Residual r = Residual.ofScaledDense(dense, layer.layout(), s);
            dense = null;
            return r;
        }
        int n = storedA.size();
        int r = layer.rank();
        INDArray u = Nd4j.createUninitialized(DataType.FLOAT, new long[] {layer.dOut(), (long) n * r}, 'f');
        INDArray v = Nd4j.createUninitialized(DataType.FLOAT, new long[] {(long) n * r, layer.dIn()}, 'c');
        for (int i = 0; i < n; i++) {
            NDArrayIndexRange block = new NDArrayIndexRange((long) i * r, (long) (i + 1) * r);
            u.get(NDArrayIndex.all(), block.index()).assign(storedB.get(i)).subi(meanB);
            v.get(block.index(), NDArrayIndex.all()).assign(storedA.get(i)).subi(meanA).muli(storedWeight.get(i) / total);
            storedA.get(i).close();
            storedB.get(i).close();
        }
        storedA.clear();
        storedB.clear();
        storedWeight.clear();
        return Residual.ofFactors(u, v, s);
    }

    /** {@code ||s U V||_F} via the Gram matrices, {@code sqrt(sum((U^T U) .* (V V^T)))}: k x k work, not d x k. */
    private static double residualNorm(Residual res) {
        if (!res.hasFactors()) {
            return res.dense(io.fedlora.aggregation.lora.WeightLayout.LINEAR).norm2Number().doubleValue();
        }
        INDArray u = res.u().castTo(DataType.DOUBLE);
        INDArray v = res.v().castTo(DataType.DOUBLE);
        INDArray gu = u.transpose().mmul(u);
        INDArray gv = v.mmul(v.transpose());
        double sq = gu.mul(gv).sumNumber().doubleValue();
        return Math.abs(res.scale()) * Math.sqrt(Math.max(0.0, sq));
    }

    private static INDArray f32(INDArray x) {
        return x.dataType() == DataType.FLOAT ? x : x.castTo(DataType.FLOAT);
    }

    /** A half-open row/column range as an ND4J index. */
    private record NDArrayIndexRange(long from, long to) {
        org.nd4j.linalg.indexing.INDArrayIndex index() {
            return NDArrayIndex.interval(from, to);
        }
    }
}
