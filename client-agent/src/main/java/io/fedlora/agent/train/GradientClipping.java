package io.fedlora.agent.train;

import io.fedlora.agent.model.ops.Dense;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Collection;

/** Global-norm gradient clipping (as {@code torch.nn.utils.clip_grad_norm_}). */
public final class GradientClipping {

    private GradientClipping() {
    }

    /**
     * Scales all gradients in place so that their joint L2 norm is at most {@code maxNorm} (no-op when
     * {@code maxNorm <= 0}); returns the norm before clipping.
     */
    public static double clipGlobalNorm(Collection<INDArray> grads, double maxNorm) {
        double sq = 0;
        for (INDArray g : grads) {
            Dense d = Dense.of(g);
            for (int i = 0, n = d.length(); i < n; i++) {
                double x = d.get(i);
                sq += x * x;
            }
        }
        double norm = Math.sqrt(sq);
        if (maxNorm > 0 && norm > maxNorm) {
            double f = maxNorm / (norm + 1e-6);
            for (INDArray g : grads) {
                Dense d = Dense.of(g);
                for (int i = 0, n = d.length(); i < n; i++) {
                    d.set(i, d.get(i) * f);
                }
            }
        }
        return norm;
    }
}
