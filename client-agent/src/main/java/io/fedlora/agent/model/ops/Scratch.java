package io.fedlora.agent.model.ops;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.HashMap;
import java.util.Map;

/**
 * Named, reusable buffers for temporaries that die within one layer (a layer-norm output, the GELU output, an
 * activation gradient): each role gets one buffer, allocated outside any workspace on first use and grown when a
 * larger shape asks for it, so a step allocates no new native memory for them and they do not pile up in the step's
 * workspace. Not thread-safe: one per network, used by one pass at a time.
 */
public final class Scratch {

    private final DataType type;
    private final Map<String, INDArray> buffers = new HashMap<>();

    public Scratch(DataType type) {
        this.type = type;
    }

    /** A {@code [rows, cols]} view of the role's buffer; its contents are whatever the last user left. */
    public INDArray get(String role, long rows, long cols) {
        long need = rows * cols;
        INDArray buf = buffers.get(role);
        if (buf == null || buf.length() < need) {
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                buf = Nd4j.createUninitialized(type, new long[]{Math.max(need, 1)}, 'c');
            }
            buffers.put(role, buf);
        }
        INDArray flat = buf.length() == need ? buf : buf.get(NDArrayIndex.interval(0, need));
        return flat.reshape('c', rows, cols);
    }

    /** As {@link #get}, zero-filled. */
    public INDArray zeros(String role, long rows, long cols) {
        INDArray a = get(role, rows, cols);
        Dense.of(a).clear();
        return a;
    }
}
