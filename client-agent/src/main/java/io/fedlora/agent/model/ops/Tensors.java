package io.fedlora.agent.model.ops;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Allocation helpers: uninitialised dense c-order arrays (in the active workspace, if any). */
public final class Tensors {

    private Tensors() {
    }

    public static INDArray empty(DataType type, long rows, long cols) {
        return Nd4j.createUninitialized(type, new long[]{rows, cols}, 'c');
    }

    public static INDArray zeros(DataType type, long rows, long cols) {
        return Nd4j.zeros(type, rows, cols);
    }
}
