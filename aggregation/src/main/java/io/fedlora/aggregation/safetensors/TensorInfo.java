package io.fedlora.aggregation.safetensors;

import java.util.Arrays;

/**
 * One entry of a safetensors header: name, element type, shape and the byte range of its data,
 * relative to the first byte after the header (as the format defines {@code data_offsets}).
 */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {

    public TensorInfo {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements (1 for a scalar of shape {@code []}). */
    public long numElements() {
        return numElements(shape);
    }

    /** Number of elements of {@code shape} (1 for a scalar's {@code []}), refusing an overflow. */
    public static long numElements(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public long byteLength() {
        return end - begin;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype
                && Arrays.equals(shape, t.shape) && begin == t.begin && end == t.end;
    }

    @Override
    public int hashCode() {
        return (name.hashCode() * 31 + dtype.hashCode()) * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + "[" + dtype + " " + Arrays.toString(shape) + " @" + begin + ".." + end + "]";
    }
}
