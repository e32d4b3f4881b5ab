package io.fedlora.agent.model;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One data-parallel replica's gradients, copied out of its thread's step workspace (which closes when its pass ends)
 * into buffers it keeps from step to step, so the combining thread can read them and no step allocates them anew.
 * Used by one replica's thread at a time.
 */
final class HeldGradients {

    private final Map<String, INDArray> buffers = new HashMap<>();

    /** Copies {@code grads} (dense c-order) into this holder's buffers; returns them by the same keys in the same order. */
    Map<String, INDArray> hold(Map<String, INDArray> grads) {
        Map<String, INDArray> held = new LinkedHashMap<>();
        grads.forEach((key, g) -> {
            INDArray buf = buffers.get(key);
            if (buf == null || buf.dataType() != g.dataType() || !Arrays.equals(buf.shape(), g.shape())) {
                try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                    buf = Nd4j.createUninitialized(g.dataType(), g.shape(), 'c');
                }
                buffers.put(key, buf);
            }
            copy(g, buf);
            held.put(key, buf);
        });
        return held;
    }

    private static void copy(INDArray src, INDArray dst) {
        if (src.ordering() != 'c' || (src.length() > 1 && src.elementWiseStride() != 1)) {
            throw new IllegalArgumentException("gradients must be dense c-order arrays, got " + src.shapeInfoToString());
        }
        long size = src.dataType().width();
        Pointer.memcpy(at(dst), at(src), src.length() * size);
    }

    /** The first element's address: a view's data buffer already starts at the view's offset. */
    private static BytePointer at(INDArray a) {
        return new BytePointer(a.data().addressPointer());
    }
}
