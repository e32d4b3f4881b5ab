package io.fedlora.aggregation.safetensors;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One tensor to be written: either an ND4J array converted to a storage dtype on the way out, or raw
 * little-endian bytes copied through untouched (e.g. base tensors a fold did not change).
 */
public sealed interface TensorData {

    String name();

    DType dtype();

    long[] shape();

    long byteLength();

    void writeTo(WritableByteChannel out) throws IOException;

    static TensorData of(String name, INDArray array, DType dtype) {
        return new FromArray(name, array, dtype);
    }

    static TensorData raw(String name, DType dtype, long[] shape, ByteBuffer littleEndianBytes) {
        return new Raw(name, dtype, shape.clone(), littleEndianBytes);
    }

    /** An array stored as {@code dtype}. */
    record FromArray(String name, INDArray array, DType dtype) implements TensorData {
        @Override
        public long[] shape() {
            return array.shape();
        }

        @Override
        public long byteLength() {
            return TensorCodec.byteLength(array, dtype);
        }

        @Override
        public void writeTo(WritableByteChannel out) throws IOException {
            TensorCodec.encode(array, dtype, out);
        }
    }

    /** Bytes already in safetensors form. */
    record Raw(String name, DType dtype, long[] shape, ByteBuffer bytes) implements TensorData {
        public Raw {
            long n = 1;
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            if (n * dtype.byteSize() != bytes.remaining()) {
                throw new IllegalArgumentException("tensor '" + name + "': " + bytes.remaining()
                        + " bytes do not hold shape " + Arrays.toString(shape) + " of " + dtype);
            }
        }

        @Override
        public long byteLength() {
            return bytes.remaining();
        }

        @Override
        public void writeTo(WritableByteChannel out) throws IOException {
            ByteBuffer b = bytes.duplicate();
            while (b.hasRemaining()) {
                out.write(b);
            }
        }
    }
}
