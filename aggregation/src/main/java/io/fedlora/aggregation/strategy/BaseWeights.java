package io.fedlora.aggregation.strategy;

import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Where a round finds a layer's frozen base weight for its exactness metrics: asked once per layer when the round
 * finishes, and told when that layer is done with it. A coordinator reads each weight from its blob then and frees it
 * after, instead of holding every target weight for the whole round (GPT-2-small {@code c_attn}: 85 MB while a round
 * collects; 4.3 GB for a 7B model's {@code q_proj}/{@code v_proj}).
 */
public interface BaseWeights {

    /** The base weight of {@code module} in the layer's layout, or null when there is none. */
    INDArray acquire(String module);

    /** The layer is finished with what {@link #acquire} returned (non-null). */
    void release(INDArray weight);

    /** No base weights: every layer is measured as if {@code W0 = 0}. */
    static BaseWeights none() {
        return of(Map.of());
    }

    /** Weights the caller holds (and frees) itself. */
    static BaseWeights of(Map<String, INDArray> held) {
        Map<String, INDArray> copy = Map.copyOf(held);
        return new BaseWeights() {
            @Override
            public INDArray acquire(String module) {
                return copy.get(module);
            }

            @Override
            public void release(INDArray weight) {
            }
        };
    }
}
