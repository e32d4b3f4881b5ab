package io.fedlora.agent.train;

import io.fedlora.agent.model.StepWorkspace;
import io.fedlora.agent.model.ops.Dense;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.HashMap;
import java.util.Map;

/**
 * AdamW with decoupled weight decay, exactly as PyTorch's {@code torch.optim.AdamW}: {@code p ← p·(1 − lr·wd)}, then
 * the bias-corrected Adam step. Decay applies to matrices only (biases and layer-norm gains are not decayed).
 * Updates parameters in place in one fused loop per parameter (no temporaries, no ND4J op dispatch); state is per
 * parameter name and lives outside any step workspace.
 */
public final class AdamW {

    private final double learningRate;
    private final double beta1;
    private final double beta2;
    private final double epsilon;
    private final double weightDecay;
    private final Map<String, INDArray> m = new HashMap<>();
    private final Map<String, INDArray> v = new HashMap<>();
    private int t;

    public AdamW(double learningRate, double weightDecay) {
        this(learningRate, 0.9, 0.999, 1e-8, weightDecay);
    }

    public AdamW(double learningRate, double beta1, double beta2, double epsilon, double weightDecay) {
        this.learningRate = learningRate;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.epsilon = epsilon;
        this.weightDecay = weightDecay;
    }

    /** One step over the parameters that have a gradient; the learning rate may be scheduled per step. */
    public void step(Map<String, INDArray> params, Map<String, INDArray> grads, double lr) {
        t++;
        double bc1 = 1 - StrictMath.pow(beta1, t);
        double bc2 = 1 - StrictMath.pow(beta2, t);
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            INDArray g = grads.get(e.getKey());
            if (g == null) {
                continue;
            }
            INDArray p = e.getValue();
            INDArray mi = m.computeIfAbsent(e.getKey(), k -> StepWorkspace.outside(() -> Nd4j.zeros(p.dataType(), p.shape())));
            INDArray vi = v.computeIfAbsent(e.getKey(), k -> StepWorkspace.outside(() -> Nd4j.zeros(p.dataType(), p.shape())));
            update(Dense.of(p), Dense.of(g), Dense.of(mi), Dense.of(vi), weightDecay > 0 && p.rank() >= 2 ? 1 - lr * weightDecay : 1,
                    Math.sqrt(bc2), lr / bc1);
        }
    }

    /** One fused pass over a parameter: decay, both moments and the update, with no temporaries. */
    private void update(Dense p, Dense g, Dense mi, Dense vi, double decay, double sqrtBc2, double stepSize) {
        double b1 = beta1;
        double b2 = beta2;
        for (int i = 0, n = p.length(); i < n; i++) {
            double gi = g.get(i);
            double mv = b1 * mi.get(i) + (1 - b1) * gi;
            double vv = b2 * vi.get(i) + (1 - b2) * gi * gi;
            mi.set(i, mv);
            vi.set(i, vv);
            double denom = Math.sqrt(vv) / sqrtBc2 + epsilon;
            p.set(i, p.get(i) * decay - stepSize * mv / denom);
        }
    }

    /** One step at the configured learning rate. */
    public void step(Map<String, INDArray> params, Map<String, INDArray> grads) {
        step(params, grads, learningRate);
    }

    public double learningRate() {
        return learningRate;
    }
}
