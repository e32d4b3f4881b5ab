package io.fedlora.aggregation.strategy;

import io.fedlora.aggregation.lora.LayoutGemm;
import io.fedlora.aggregation.lora.OffHeap;
import io.fedlora.aggregation.lora.WeightLayout;
import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The exact FedEx residual of one layer, {@code R = sum w_i B_i A_i - B'A' = sum w_i (B_i - B')(A_i - A')},
 * to be folded into the frozen base as {@code W0 += scale * R}.
 *
 * <p>Normally held as factors {@code U = [B_1-B' ... B_n-B']} ({@code d_out x k}) and
 * {@code V = [w_1(A_1-A'); ...; w_n(A_n-A')]} ({@code k x d_in}), {@code k = n*r}: rank at most k, so a client can
 * fold it itself from {@code k*(d_out+d_in)} numbers instead of {@code d_out*d_in}. When the round's accumulator
 * switched to a dense sum (because factors would have been larger), only the dense form exists:
 * {@link #hasFactors()} is then false and {@link #factorsSmallerThanDense()} too.
 */
public final class Residual implements AutoCloseable {

    private final int dOut;
    private final int dIn;
    private final double scale;
    private final INDArray u;
    private final INDArray v;
    private final INDArray scaledDense;
    private final WeightLayout denseLayout;

    private Residual(int dOut, int dIn, double scale, INDArray u, INDArray v, INDArray scaledDense, WeightLayout denseLayout) {
        this.dOut = dOut;
        this.dIn = dIn;
        this.scale = scale;
        this.u = u;
        this.v = v;
        this.scaledDense = scaledDense;
        this.denseLayout = denseLayout;
    }

    /** {@code R = U V}. */
    public static Residual ofFactors(INDArray u, INDArray v, double scale) {
        if (u.rank() != 2 || v.rank() != 2 || u.columns() != v.rows()) {
            throw new IllegalArgumentException("residual factors must be U (d_out x k), V (k x d_in); got "
                    + Arrays.toString(u.shape()) + ", " + Arrays.toString(v.shape()));
        }
        return new Residual(u.rows(), v.columns(), scale, u, v, null, null);
    }

    /** A residual already multiplied by its scale, stored in {@code layout}. */
    public static Residual ofScaledDense(INDArray scaledR, WeightLayout layout, double scale) {
        long[] s = scaledR.shape();
        int dOut = (int) (layout == WeightLayout.LINEAR ? s[0] : s[1]);
        int dIn = (int) (layout == WeightLayout.LINEAR ? s[1] : s[0]);
        return new Residual(dOut, dIn, scale, null, null, scaledR, layout);
    }

    public int dOut() {
        return dOut;
    }

    public int dIn() {
        return dIn;
    }

    /** The LoRA scale {@code s} the fold multiplies by. */
    public double scale() {
        return scale;
    }

    public boolean hasFactors() {
        return u != null;
    }

    /** {@code U}, {@code d_out x k}; only when {@link #hasFactors()}. */
    public INDArray u() {
        requireFactors();
        return u;
    }

    /** {@code V}, {@code k x d_in}; only when {@link #hasFactors()}. */
    public INDArray v() {
        requireFactors();
        return v;
    }

    /** Inner dimension {@code k} of the factor form (0 when dense only). */
    public int innerDim() {
        return u == null ? 0 : (int) u.columns();
    }

    /** Numbers needed to ship the factors: {@code k*(d_out+d_in)}. */
    public long factorElements() {
        return (long) innerDim() * ((long) dOut + dIn);
    }

    /** Numbers needed to ship it dense: {@code d_out*d_in}. */
    public long denseElements() {
        return (long) dOut * dIn;
    }

    /** True when shipping {@code U, V} is cheaper than shipping the dense matrix (both are exact). */
    public boolean factorsSmallerThanDense() {
        return hasFactors() && factorElements() < denseElements();
    }

    /** {@code W0 += scale * R} in {@code layout}, as one GEMM with {@code beta = 1} in the factor form. */
    public void foldInto(INDArray baseWeight, WeightLayout layout) {
        long[] expected = layout.baseShape(dOut, dIn);
        if (!Arrays.equals(baseWeight.shape(), expected)) {
            throw new IllegalArgumentException("cannot fold a residual for d_out=" + dOut + ", d_in=" + dIn + " into a "
                    + layout + " weight of shape " + Arrays.toString(baseWeight.shape()) + " (expected "
                    + Arrays.toString(expected) + ")");
        }
        if (u != null) {
            LayoutGemm.addProduct(baseWeight, layout, u, v, scale, 1.0);
        } else {
            INDArray d = layout == denseLayout ? scaledDense : scaledDense.transpose();
            baseWeight.addi(d.dataType() == baseWeight.dataType() ? d : d.castTo(baseWeight.dataType()));
        }
    }

    /** {@code scale * R} as a new dense fp32 matrix in {@code layout}. */
    public INDArray dense(WeightLayout layout) {
        if (u != null) {
            INDArray out = org.nd4j.linalg.factory.Nd4j.create(DataType.FLOAT, layout.baseShape(dOut, dIn), 'c');
            LayoutGemm.addProduct(out, layout, u, v, scale, 0.0);
            return out;
        }
        return (layout == denseLayout ? scaledDense : scaledDense.transpose()).dup('c');
    }

    /**
     * {@code scale * R} in {@code layout} as this residual holds it (valid until {@link #close}, not to be changed) when
     * it is one dense c-order matrix in that layout, so a caller that only writes it out needs no copy; else empty.
     * A dense residual is the round's dense sum, already in the base weight's layout: copying it for the residual blob
     * doubled it (GPT-2-small {@code c_attn}: 85 MB more at the aggregation of a thousand clients).
     */
    public java.util.Optional<INDArray> heldDense(WeightLayout layout) {
        boolean held = u == null && layout == denseLayout && scaledDense.ordering() == 'c' && !scaledDense.isView()
                && scaledDense.dataType() == DataType.FLOAT;
        return held ? java.util.Optional.of(scaledDense) : java.util.Optional.empty();
    }

    /** Frees the off-heap factors (or dense matrix); the residual may not be used afterwards. */
    @Override
    public void close() {
        for (INDArray x : new INDArray[] {u, v, scaledDense}) {
            if (x != null) {
                OffHeap.release(x);
            }
        }
    }

    private void requireFactors() {
        if (u == null) {
            throw new IllegalStateException("this residual exists only in dense form (the round's accumulator switched"
                    + " to a dense sum because n*r*(d_out+d_in) >= d_out*d_in); use dense() or foldInto()");
        }
    }
}
