package io.fedlora.aggregation.lora;

import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A layer's LoRA factors in PEFT's layout, whatever the base layout: {@code A} is {@code r x d_in},
 * {@code B} is {@code d_out x r}.
 */
public record LoraFactors(INDArray a, INDArray b) {

    public LoraFactors {
        if (a == null || b == null) {
            throw new IllegalArgumentException("LoRA factors need both A and B");
        }
        if (a.rank() != 2 || b.rank() != 2) {
            throw new IllegalArgumentException("LoRA factors must be matrices, got A " + Arrays.toString(a.shape())
                    + " and B " + Arrays.toString(b.shape()));
        }
        if (a.rows() != b.columns()) {
            throw new IllegalArgumentException("LoRA rank mismatch: A is " + Arrays.toString(a.shape())
                    + " (r x d_in) but B is " + Arrays.toString(b.shape()) + " (d_out x r)");
        }
    }

    /** Frees both factors' native buffers now ({@link OffHeap#release}); the factors may not be used afterwards. */
    public void release() {
        OffHeap.release(a);
        OffHeap.release(b);
    }

    public int rank() {
        return a.rows();
    }

    public int dIn() {
        return (int) a.columns();
    }

    public int dOut() {
        return b.rows();
    }

    /** Throws naming {@code who} if these factors do not fit {@code layer}. */
    public void checkFits(LoraLayer layer, String who) {
        if (a.rows() != layer.rank() || a.columns() != layer.dIn()
                || b.rows() != layer.dOut() || b.columns() != layer.rank()) {
            throw new IllegalArgumentException(who + ": factors for " + layer.module() + " have A "
                    + Arrays.toString(a.shape()) + ", B " + Arrays.toString(b.shape()) + " but the layer needs A ["
                    + layer.rank() + ", " + layer.dIn() + "], B [" + layer.dOut() + ", " + layer.rank() + "]");
        }
    }
}
