package io.fedlora.aggregation.safetensors;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.WritableByteChannel;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Moves tensor data between little-endian safetensors bytes and ND4J arrays without a whole-tensor
 * heap copy: values go straight into (or out of) the array's native buffer, in bounded chunks.
 */
public final class TensorCodec {

    private static final int CHUNK_ELEMENTS = 1 << 16;

    private TensorCodec() {
    }

    /** ND4J element type used in memory for a safetensors dtype (floats compute in fp32). */
    public static DataType memoryType(DType dtype) {
        return switch (dtype) {
            case F64, F32, F16, BF16 -> DataType.FLOAT;
            case I64 -> DataType.LONG;
            case I32 -> DataType.INT;
            case I16 -> DataType.SHORT;
            case I8 -> DataType.BYTE;
            case U8 -> DataType.UBYTE;
            case BOOL -> DataType.BOOL;
        };
    }

    /**
     * Decodes {@code count} elements of {@code dtype} read from {@code src} (from its position) into a
     * new c-order array of {@code shape}; floating types become fp32.
     */
    public static INDArray decode(ByteBuffer src, DType dtype, long[] shape) {
        INDArray out = allocate(dtype, shape);
        if (out.length() > 0) {
            decodeInto(out, 0, src, dtype);
        }
        return out;
    }

    /** An uninitialised c-order array of {@code shape} in {@code dtype}'s memory type, for {@link #decodeInto}. */
    public static INDArray allocate(DType dtype, long[] shape) {
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in " + java.util.Arrays.toString(shape));
            }
        }
        return Nd4j.create(memoryType(dtype), shape, 'c');
    }

    /**
     * Decodes the whole little-endian {@code dtype} elements in {@code src} into {@code out} (from
     * {@link #allocate}) starting at its element {@code first}, so a tensor can be decoded chunk by chunk from
     * positional reads instead of from one mapping of the file. Returns how many elements it wrote.
     */
    public static int decodeInto(INDArray out, long first, ByteBuffer src, DType dtype) {
        ByteBuffer in = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int n = in.remaining() / dtype.byteSize();
        if (first < 0 || first + n > out.length()) {
            throw new IllegalArgumentException("elements " + first + ".." + (first + n) + " do not fit an array of "
                    + out.length());
        }
        if (n == 0) {
            return 0;
        }
        ByteBuffer all = out.data().asNio().order(ByteOrder.nativeOrder());
        all.position(Math.toIntExact(first * out.data().getElementSize()));
        ByteBuffer dst = all.slice().order(ByteOrder.nativeOrder());
        switch (dtype) {
            case F32 -> dst.asFloatBuffer().put(in.asFloatBuffer().limit(n));
            case F64 -> {
                var d = in.asDoubleBuffer();
                var f = dst.asFloatBuffer();
                for (int i = 0; i < n; i++) {
                    f.put(i, (float) d.get(i));
                }
            }
            case F16 -> {
                var s = in.asShortBuffer();
                var f = dst.asFloatBuffer();
                for (int i = 0; i < n; i++) {
                    f.put(i, HalfFloats.halfToFloat(s.get(i)));
                }
            }
            case BF16 -> {
                var s = in.asShortBuffer();
                var f = dst.asFloatBuffer();
                for (int i = 0; i < n; i++) {
                    f.put(i, HalfFloats.bf16ToFloat(s.get(i)));
                }
            }
            case I64 -> dst.asLongBuffer().put(in.asLongBuffer().limit(n));
            case I32 -> dst.asIntBuffer().put(in.asIntBuffer().limit(n));
            case I16 -> dst.asShortBuffer().put(in.asShortBuffer().limit(n));
            case I8, U8, BOOL -> dst.put(in.limit(in.position() + n));
        }
        return n;
    }

    /** Number of bytes {@link #encode} writes for {@code array} as {@code dtype}. */
    public static long byteLength(INDArray array, DType dtype) {
        return Math.multiplyExact(array.length(), (long) dtype.byteSize());
    }

    /** Writes {@code array} (any layout, any view) as little-endian {@code dtype} elements in c order. */
    public static void encode(INDArray array, DType dtype, WritableByteChannel out) throws IOException {
        if (array.length() == 0) {
            return;
        }
        DataType mem = dtype == DType.F64 ? DataType.DOUBLE : memoryType(dtype);
        INDArray src = array.dataType() == mem ? array : array.castTo(mem);
        if (src.isView() || src.ordering() != 'c' || src.data().length() != src.length() || src.offset() != 0) {
            src = src.dup('c');
        }
        ByteBuffer native0 = src.data().asNio().order(ByteOrder.nativeOrder());
        long n = src.length();
        ByteBuffer chunk = ByteBuffer.allocate(CHUNK_ELEMENTS * dtype.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        for (long start = 0; start < n; start += CHUNK_ELEMENTS) {
            int len = (int) Math.min(CHUNK_ELEMENTS, n - start);
            int s = (int) start;
            chunk.clear();
            switch (dtype) {
                case F32 -> {
                    var f = native0.asFloatBuffer();
                    for (int i = 0; i < len; i++) {
                        chunk.putFloat(f.get(s + i));
                    }
                }
                case F64 -> {
                    var d = native0.asDoubleBuffer();
                    for (int i = 0; i < len; i++) {
                        chunk.putDouble(d.get(s + i));
                    }
                }
                case F16 -> {
                    var f = native0.asFloatBuffer();
                    for (int i = 0; i < len; i++) {
                        chunk.putShort(HalfFloats.floatToHalf(f.get(s + i)));
                    }
                }
                case BF16 -> {
                    var f = native0.asFloatBuffer();
                    for (int i = 0; i < len; i++) {
                        chunk.putShort(HalfFloats.floatToBf16(f.get(s + i)));
                    }
                }
                case I64 -> {
                    var l = native0.asLongBuffer();
                    for (int i = 0; i < len; i++) {
                        chunk.putLong(l.get(s + i));
                    }
                }
                case I32 -> {
                    var l = native0.asIntBuffer();
                    for (int i = 0; i < len; i++) {
                        chunk.putInt(l.get(s + i));
                    }
                }
                case I16 -> {
                    var l = native0.asShortBuffer();
                    for (int i = 0; i < len; i++) {
                        chunk.putShort(l.get(s + i));
                    }
                }
                case I8, U8, BOOL -> {
                    for (int i = 0; i < len; i++) {
                        chunk.put(native0.get(s + i));
                    }
                }
            }
            chunk.flip();
            while (chunk.hasRemaining()) {
                out.write(chunk);
            }
        }
    }
}
