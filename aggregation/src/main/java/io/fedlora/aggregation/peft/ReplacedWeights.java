package io.fedlora.aggregation.peft;

import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The weights an export writes in place of the base's (the residual-folded target weights), read only when the
 * writer reaches each one and freed once it is written: an export holds one of them at a time instead of all (a
 * coordinator's GPT-2-small export held 85 MB of them; a 7B model's {@code q_proj}/{@code v_proj}, 4.3 GB).
 */
public interface ReplacedWeights {

    /** The base keys replaced. */
    Set<String> keys();

    /** The shape of {@code key}'s weight, known without reading it. */
    long[] shape(String key);

    /** {@code key}'s weight as a new c-order fp32 array that the caller frees. */
    INDArray read(String key);

    /** Weights the caller holds: each read is a copy, so the caller's arrays are left as they are. */
    static ReplacedWeights of(Map<String, INDArray> held) {
        Map<String, INDArray> copy = Map.copyOf(held);
        return new ReplacedWeights() {
            @Override
            public Set<String> keys() {
                return copy.keySet();
            }

            @Override
            public long[] shape(String key) {
                return copy.get(key).shape();
            }

            @Override
            public INDArray read(String key) {
                return copy.get(key).dup('c');
            }
        };
    }
}
