package io.fedlora.aggregation.safetensors;

import io.fedlora.aggregation.lora.OffHeap;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.util.Arrays;
import java.util.function.Supplier;
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

    /** {@code length} bytes at {@code position} of an open file, copied by the kernel when written (never mapped). */
    static TensorData region(String name, DType dtype, long[] shape, FileChannel file, long position, long length) {
        return new Region(name, dtype, shape.clone(), file, position, length);
    }

    /**
     * An array of {@code shape} computed only when it is written and closed right after, so that a file of many such
     * tensors (a merged export: one weight plus its adapter product per layer) holds one of them at a time.
     */
    static TensorData computed(String name, DType dtype, long[] shape, Supplier<INDArray> compute) {
        return new Computed(name, dtype, shape.clone(), compute);
    }

    /** An array made by {@code compute} at write time, stored as {@code dtype}, then closed. */
    record Computed(String name, DType dtype, long[] shape, Supplier<INDArray> compute) implements TensorData {
        @Override
        public long byteLength() {
            return Math.multiplyExact(TensorInfo.numElements(shape), (long) dtype.byteSize());
        }

        @Override
        public void writeTo(WritableByteChannel out) throws IOException {
            INDArray array = compute.get();
            try {
                if (!Arrays.equals(array.shape(), shape)) {
                    throw new IOException("tensor '" + name + "' was computed with shape " + Arrays.toString(array.shape())
                            + ", its header says " + Arrays.toString(shape));
                }
                TensorCodec.encode(array, dtype, out);
            } finally {
                OffHeap.release(array);
            }
        }
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

    /** Bytes already in safetensors form, in a region of an open file. */
    record Region(String name, DType dtype, long[] shape, FileChannel file, long position, long byteLength)
            implements TensorData {
        public Region {
            long n = TensorInfo.numElements(shape);
            if (n * dtype.byteSize() != byteLength) {
                throw new IllegalArgumentException("tensor '" + name + "': " + byteLength
                        + " bytes do not hold shape " + Arrays.toString(shape) + " of " + dtype);
            }
        }

        @Override
        public void writeTo(WritableByteChannel out) throws IOException {
            long done = 0;
            while (done < byteLength) {
                long n = file.transferTo(position + done, byteLength - done, out);
                if (n <= 0) {
                    throw new IOException("tensor '" + name + "': file ended " + (byteLength - done)
                            + " bytes early");
                }
                done += n;
            }
        }
    }

    /** Bytes already in safetensors form. */
    record Raw(String name, DType dtype, long[] shape, ByteBuffer bytes) implements TensorData {
        public Raw {
            long n = TensorInfo.numElements(shape);
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
