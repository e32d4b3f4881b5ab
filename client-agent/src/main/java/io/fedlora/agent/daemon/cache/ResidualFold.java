package io.fedlora.agent.daemon.cache;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Folds a low-rank FedEx-LoRA residual into a frozen base weight in place with one GEMM (beta = 1):
 * {@code W += scale * U V} for a LINEAR weight ({@code d_out x d_in}); for an HF Conv1D weight stored
 * {@code d_in x d_out} the same update transposed, {@code W += scale * V^T U^T}. No dense temporary.
 */
public final class ResidualFold {

    private ResidualFold() {}

    public static void fold(INDArray weight, INDArray u, INDArray v, double scale, boolean conv1dLayout) {
        long dOut = u.size(0);
        long dIn = v.size(1);
        if (u.size(1) != v.size(0)) {
            throw new ModelIntegrityException("residual factors do not chain: U " + shape(u) + ", V " + shape(v));
        }
        long rows = conv1dLayout ? dIn : dOut;
        long cols = conv1dLayout ? dOut : dIn;
        if (weight.rank() != 2 || weight.size(0) != rows || weight.size(1) != cols) {
            throw new ModelIntegrityException("residual U " + shape(u) + " V " + shape(v) + " does not fit a "
                    + (conv1dLayout ? "Conv1D" : "Linear") + " weight of shape " + shape(weight));
        }
        if (conv1dLayout) {
            Nd4j.gemm(v, u, weight, true, true, scale, 1.0);
        } else {
            Nd4j.gemm(u, v, weight, false, false, scale, 1.0);
        }
    }

    private static String shape(INDArray a) {
        return java.util.Arrays.toString(a.shape());
    }
}
