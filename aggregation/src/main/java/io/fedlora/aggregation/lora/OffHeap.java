package io.fedlora.aggregation.lora;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Frees ND4J arrays' native buffers as soon as their owner is done with them. Left to the garbage collector, a
 * buffer lives until its small heap wrapper is collected, which on a quiet heap (the coordinator's) can be many
 * rounds later: the memory stays resident meanwhile.
 */
public final class OffHeap {

    private OffHeap() {
    }

    /** Frees {@code x}'s buffer now; a view, or an array freed already, is left alone. */
    public static void release(INDArray x) {
        if (x.closeable() && !x.wasClosed()) {
            x.close();
        }
    }
}
