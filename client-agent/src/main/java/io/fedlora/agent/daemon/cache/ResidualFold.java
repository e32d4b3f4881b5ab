package io.fedlora.agent.daemon.cache;

import io.fedlora.aggregation.lora.LayoutGemm;
import io.fedlora.aggregation.lora.WeightLayout;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Folds a low-rank FedEx-LoRA residual into a frozen base weight in place with one GEMM (beta = 1):
 * {@code W += scale * U V} for a LINEAR weight ({@code d_out x d_in}); for an HF Conv1D weight stored
 * {@code d_in x d_out} the same update transposed. No dense temporary; the GEMM is aggregation's
 * {@link LayoutGemm}, the same code the coordinator folds with.
 */
public final class ResidualFold {

    private ResidualFold() {}

    public static void fold(INDArray weight, INDArray u, INDArray v, double scale, WeightLayout layout) {
        try {
            LayoutGemm.addProduct(weight, layout, u, v, scale, 1.0);
        } catch (IllegalArgumentException e) {
            throw new ModelIntegrityException("residual does not fit its target weight: " + e.getMessage());
        }
    }
}
