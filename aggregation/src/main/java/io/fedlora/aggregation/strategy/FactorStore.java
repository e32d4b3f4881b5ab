package io.fedlora.aggregation.strategy;

import io.fedlora.aggregation.lora.OffHeap;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The clients' raw factors {@code A_i, B_i} a {@link LayerAccumulator} keeps in factor mode, off the Java heap in
 * blocks of {@value #CLIENTS_PER_BLOCK} clients that are freed as a whole. On the heap they lived until the round
 * switched to a dense sum (about 72 GPT-2 clients, 85 MB), long enough to be promoted, and then stayed there as garbage
 * that only a full collection frees; the old generation grew to hold them and the coordinator's resident memory with
 * it. A GPT-2 {@code c_attn} block (8 clients, 786 KB) is above glibc's mmap threshold, so freeing it returns the memory
 * to the system at once.
 */
final class FactorStore {

    static final int CLIENTS_PER_BLOCK = 8;

    private final int aLength;
    private final int bLength;
    private final int stride;
    private final List<INDArray> blocks = new ArrayList<>();
    private final List<FloatBuffer> views = new ArrayList<>();
    private int size;

    FactorStore(int aLength, int bLength) {
        this.aLength = aLength;
        this.bLength = bLength;
        this.stride = Math.addExact(aLength, bLength);
    }

    int size() {
        return size;
    }

    /** Copies one client's factors in (c order, {@code A} then {@code B}); returns its index. */
    int add(float[] a, float[] b) {
        if (a.length != aLength || b.length != bLength) {
            throw new IllegalArgumentException("factors of " + a.length + " + " + b.length + " values, expected "
                    + aLength + " + " + bLength);
        }
        if (size == blocks.size() * CLIENTS_PER_BLOCK) {
            INDArray block = Nd4j.createUninitialized(DataType.FLOAT, (long) CLIENTS_PER_BLOCK * stride);
            blocks.add(block);
            views.add(block.data().asNio().order(ByteOrder.nativeOrder()).asFloatBuffer());
        }
        size++;
        slot(size - 1).put(a).put(b);
        return size - 1;
    }

    /** Client {@code i}'s {@code A} ({@code r x d_in}, c order), a view: read it with absolute gets. */
    FloatBuffer a(int i) {
        return slot(i).limit(aLength).slice();
    }

    /** Client {@code i}'s {@code B} ({@code d_out x r}, c order), a view. */
    FloatBuffer b(int i) {
        FloatBuffer s = slot(i);
        return s.position(aLength).slice();
    }

    private FloatBuffer slot(int i) {
        if (i < 0 || i >= size) {
            throw new IndexOutOfBoundsException(i);
        }
        FloatBuffer v = views.get(i / CLIENTS_PER_BLOCK).duplicate();
        int from = (i % CLIENTS_PER_BLOCK) * stride;
        return v.position(from).limit(from + stride).slice();
    }

    /** Frees every block now; the store is empty afterwards. */
    void clear() {
        blocks.forEach(OffHeap::release);
        blocks.clear();
        views.clear();
        size = 0;
    }
}
