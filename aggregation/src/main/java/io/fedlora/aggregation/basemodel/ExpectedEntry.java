package io.fedlora.aggregation.basemodel;

import io.fedlora.aggregation.safetensors.DType;

/**
 * One tensor or auxiliary file of a federation's version-0 full state as its download manifest lists it: the name the
 * coordinator sends it under (checkpoint key without the family's body prefix, or the file name), the dtype and shape
 * it is sent in (a file: {@code U8}, its size) and the sha256 of those bytes.
 */
public record ExpectedEntry(String name, boolean file, DType dtype, long[] shape, String sha256) {

    public ExpectedEntry {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }
}
