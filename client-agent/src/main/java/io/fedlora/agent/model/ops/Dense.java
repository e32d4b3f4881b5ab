package io.fedlora.agent.model.ops;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;

/**
 * Element access to a dense row-major INDArray's native memory without ND4J op dispatch (each ND4J op costs tens of
 * microseconds of JNI and shape bookkeeping, which dominated small-model steps). One subclass per element type, so
 * the kernels are written once: with only fp32 in use a call site is monomorphic and the JIT inlines it; the fp64
 * subclass exists for the gradient checks.
 */
public abstract sealed class Dense permits Dense.F32, Dense.F64 {

    /** The wrapped array. */
    public final INDArray array;
    /** Its element count, read once: ND4J's {@code length()} re-derives it from the shape info on every call. */
    private final int length;

    private Dense(INDArray array) {
        this.array = array;
        this.length = (int) array.length();
    }

    /** Accessor for a dense c-order array (views with an offset are fine; strided views are refused). */
    public static Dense of(INDArray a) {
        if (a.ordering() != 'c' || !a.isR() || (a.length() > 1 && a.elementWiseStride() != 1)) {
            throw new IllegalArgumentException("kernels need a dense c-order float array, got " + a.shapeInfoToString());
        }
        return a.dataType() == DataType.DOUBLE ? new F64(a) : new F32(a);
    }

    public abstract double get(int i);

    public abstract void set(int i, double v);

    public final void add(int i, double v) {
        set(i, get(i) + v);
    }

    /** Copies {@code len} elements from index {@code from} into {@code dst} (a bulk copy, then a widening loop). */
    public abstract void read(int from, double[] dst, int len);

    /** Writes {@code len} elements of {@code src} from index {@code from}. */
    public abstract void write(int from, double[] src, int len);

    /**
     * As {@link #read(int, double[], int)} through the caller's staging buffer ({@link #stage}), so a kernel's row
     * loop allocates nothing per row.
     */
    public abstract void read(int from, double[] dst, int len, float[] stage);

    /** As {@link #write(int, double[], int)} through the caller's staging buffer. */
    public abstract void write(int from, double[] src, int len, float[] stage);

    /** A staging buffer for rows of up to {@code len} elements (empty for fp64, which copies directly); one per thread. */
    public abstract float[] stage(int len);

    /** Sets every element to zero. */
    public abstract void clear();

    /** Writes {@code src[0..len)} into each of the first {@code rows} rows of width {@code len} (a broadcast bias). */
    public abstract void fillRows(double[] src, int len, int rows);

    /** Whether the elements are fp32 (kernels may then use fp32-accurate approximations). */
    public abstract boolean single();

    /** Element count. */
    public final int length() {
        return length;
    }

    static final class F32 extends Dense {
        private final FloatBuffer b;

        F32(INDArray a) {
            super(a);
            FloatPointer p = new FloatPointer(a.data().addressPointer());
            p.position(a.offset()).limit(a.offset() + a.length());
            this.b = p.asBuffer();
        }

        @Override
        public double get(int i) {
            return b.get(i);
        }

        @Override
        public void set(int i, double v) {
            b.put(i, (float) v);
        }

        @Override
        public boolean single() {
            return true;
        }

        @Override
        public void read(int from, double[] dst, int len) {
            read(from, dst, len, new float[len]);
        }

        @Override
        public void write(int from, double[] src, int len) {
            write(from, src, len, new float[len]);
        }

        @Override
        public void read(int from, double[] dst, int len, float[] stage) {
            b.get(from, stage, 0, len);
            for (int i = 0; i < len; i++) {
                dst[i] = stage[i];
            }
        }

        @Override
        public void write(int from, double[] src, int len, float[] stage) {
            for (int i = 0; i < len; i++) {
                stage[i] = (float) src[i];
            }
            b.put(from, stage, 0, len);
        }

        @Override
        public float[] stage(int len) {
            return new float[len];
        }

        /** Copies {@code len} elements from index {@code from} into {@code dst} as they are (fp32 kernels). */
        void getFloats(int from, float[] dst, int len) {
            b.get(from, dst, 0, len);
        }

        /** Writes {@code len} elements of {@code src} from index {@code from}. */
        void putFloats(int from, float[] src, int len) {
            b.put(from, src, 0, len);
        }

        @Override
        public void clear() {
            float[] zeros = new float[Math.min(length(), 4096)];
            for (int i = 0, n = length(); i < n; i += zeros.length) {
                b.put(i, zeros, 0, Math.min(zeros.length, n - i));
            }
        }

        @Override
        public void fillRows(double[] src, int len, int rows) {
            float[] tmp = new float[len];
            for (int i = 0; i < len; i++) {
                tmp[i] = (float) src[i];
            }
            for (int r = 0; r < rows; r++) {
                b.put(r * len, tmp, 0, len);
            }
        }
    }

    static final class F64 extends Dense {
        private final DoubleBuffer b;

        F64(INDArray a) {
            super(a);
            DoublePointer p = new DoublePointer(a.data().addressPointer());
            p.position(a.offset()).limit(a.offset() + a.length());
            this.b = p.asBuffer();
        }

        @Override
        public double get(int i) {
            return b.get(i);
        }

        @Override
        public void set(int i, double v) {
            b.put(i, v);
        }

        @Override
        public boolean single() {
            return false;
        }

        @Override
        public void read(int from, double[] dst, int len) {
            b.get(from, dst, 0, len);
        }

        @Override
        public void write(int from, double[] src, int len) {
            b.put(from, src, 0, len);
        }

        @Override
        public void read(int from, double[] dst, int len, float[] stage) {
            b.get(from, dst, 0, len);
        }

        @Override
        public void write(int from, double[] src, int len, float[] stage) {
            b.put(from, src, 0, len);
        }

        @Override
        public float[] stage(int len) {
            return new float[0];
        }

        @Override
        public void clear() {
            double[] zeros = new double[Math.min(length(), 4096)];
            for (int i = 0, n = length(); i < n; i += zeros.length) {
                b.put(i, zeros, 0, Math.min(zeros.length, n - i));
            }
        }

        @Override
        public void fillRows(double[] src, int len, int rows) {
            for (int r = 0; r < rows; r++) {
                b.put(r * len, src, 0, len);
            }
        }
    }
}
