package io.fedlora.aggregation.lora;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code W <- beta*W + alpha*(L @ R)} with {@code L} ({@code d_out x k}) and {@code R} ({@code k x d_in}),
 * in the layout of {@code W}: for {@code CONV1D} the transpose is folded into the GEMM's transpose flags
 * ({@code W^T += alpha * R^T L^T}), so no transposed copy is ever made. One BLAS call either way.
 */
public final class LayoutGemm {

    private LayoutGemm() {
    }

    public static void addProduct(INDArray target, WeightLayout layout, INDArray left, INDArray right,
                                  double alpha, double beta) {
        if (left.columns() != right.rows()) {
            throw new IllegalArgumentException("inner dimensions differ: " + Arrays.toString(left.shape()) + " @ "
                    + Arrays.toString(right.shape()));
        }
        long[] expected = layout.baseShape(left.rows(), right.columns());
        if (!Arrays.equals(target.shape(), expected)) {
            throw new IllegalArgumentException("a " + layout + " weight for a product of " + Arrays.toString(left.shape())
                    + " @ " + Arrays.toString(right.shape()) + " must be " + Arrays.toString(expected) + ", got "
                    + Arrays.toString(target.shape()));
        }
        if (target.dataType() != DataType.FLOAT && target.dataType() != DataType.DOUBLE) {
            throw new IllegalArgumentException("target must be fp32 or fp64, got " + target.dataType());
        }
        INDArray l = left.dataType() == target.dataType() ? left : left.castTo(target.dataType());
        INDArray r = right.dataType() == target.dataType() ? right : right.castTo(target.dataType());
        if (target.isView()) {
            // GEMM writes only into a whole buffer; a view gets the product added separately.
            INDArray tmp = target.ulike();
            addProduct(tmp, layout, l, r, alpha, 0.0);
            target.muli(beta).addi(tmp);
            return;
        }
        if (layout == WeightLayout.LINEAR) {
            Nd4j.gemm(l, r, target, false, false, alpha, beta);
        } else {
            Nd4j.gemm(r, l, target, true, true, alpha, beta);
        }
    }
}
