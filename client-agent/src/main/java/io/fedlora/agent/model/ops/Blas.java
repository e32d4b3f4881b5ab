package io.fedlora.agent.model.ops;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Row-major GEMM straight into OpenBLAS ({@code cblas_sgemm}/{@code cblas_dgemm}) on regions of dense INDArrays:
 * an offset and a leading dimension address a sub-matrix (one attention head's columns of the fused qkv projection,
 * a block of rows) without the copy ND4J's {@code mmul} makes of a view, and without its op dispatch.
 */
public final class Blas {

    private Blas() {
    }

    /**
     * The backend check, made once: these calls hand the arrays' host addresses to OpenBLAS, which is only right for
     * ND4J's CPU backend (on the CUDA backend they would be device buffers).
     */
    private static final class Backend {
        static final String NAME = Nd4j.getBackend().getClass().getSimpleName();
        static final boolean CPU = NAME.startsWith("Cpu");
    }

    /** Refuses to run on a backend other than ND4J's CPU one, with what to do instead. */
    public static void requireCpuBackend() {
        if (!Backend.CPU) {
            throw new IllegalStateException("fedlora's training engine runs on ND4J's CPU backend only, but this JVM "
                    + "loaded " + Backend.NAME + "; start the agent with BACKEND_PRIORITY_CPU=200 (or a build without "
                    + "-Pcuda)");
        }
    }

    /** A matrix region: element {@code (i, j)} is at {@code offset + i·ld + j} of {@code array}'s buffer. */
    public record Region(INDArray array, long offset, int ld) {
        public static Region of(INDArray a2d) {
            return new Region(a2d, 0, (int) a2d.size(1));
        }

        /** The region starting {@code rows} rows and {@code cols} columns further. */
        public Region at(long rows, long cols) {
            return new Region(array, offset + rows * ld + cols, ld);
        }
    }

    /** C ← alpha·op(A)·op(B) + beta·C with op(A) {@code m × k}, op(B) {@code k × n}. */
    public static void gemm(boolean transA, boolean transB, int m, int n, int k, double alpha, Region a, Region b,
                            double beta, Region c) {
        requireCpuBackend();
        if (m == 0 || n == 0) {
            return;
        }
        int ta = transA ? openblas.CblasTrans : openblas.CblasNoTrans;
        int tb = transB ? openblas.CblasTrans : openblas.CblasNoTrans;
        if (c.array().dataType() == DataType.DOUBLE) {
            openblas.cblas_dgemm(openblas.CblasRowMajor, ta, tb, m, n, k, alpha, dp(a), a.ld(), dp(b), b.ld(), beta, dp(c), c.ld());
        } else {
            openblas.cblas_sgemm(openblas.CblasRowMajor, ta, tb, m, n, k, (float) alpha, fp(a), a.ld(), fp(b), b.ld(), (float) beta,
                    fp(c), c.ld());
        }
    }

    /** Whole-matrix convenience: C ← alpha·op(A)·op(B) + beta·C for dense 2-D arrays. */
    public static void gemm(INDArray a, boolean transA, INDArray b, boolean transB, double alpha, double beta, INDArray c) {
        gemm(null, a, transA, b, transB, alpha, beta, c);
    }

    /** As {@link #gemm(INDArray, boolean, INDArray, boolean, double, double, INDArray)}, split over {@code par}. */
    public static void gemm(Parallel par, INDArray a, boolean transA, INDArray b, boolean transB, double alpha, double beta,
                            INDArray c) {
        int m = (int) (transA ? a.size(1) : a.size(0));
        int k = (int) (transA ? a.size(0) : a.size(1));
        int n = (int) (transB ? b.size(0) : b.size(1));
        gemm(par, transA, transB, m, n, k, alpha, Region.of(a), Region.of(b), beta, Region.of(c));
    }

    /**
     * Multiply-adds that count as one unit of {@link Parallel#minWork()}: a GEMM runs at about 30 multiply-adds per
     * nanosecond where an element-wise kernel does one operation, so a GEMM is split only from about 2^20
     * multiply-adds per thread (a few tens of microseconds) with the default pool.
     */
    static final long MACS_PER_WORK = 32;

    /** Columns (or rows) of C per part are kept a multiple of this, the widest OpenBLAS micro-kernel. */
    private static final int ALIGN = 16;

    /**
     * As {@link #gemm(boolean, boolean, int, int, int, double, Region, Region, double, Region)}, with C split into
     * row blocks (or column blocks when it has few rows) over {@code par} when each part gets at least
     * {@code par.minWork()·}{@link #MACS_PER_WORK} multiply-adds; each part is one single-threaded OpenBLAS call on its block, and every element of C is
     * still one dot product over all of k. {@code par} may be null (one call).
     */
    public static void gemm(Parallel par, boolean transA, boolean transB, int m, int n, int k, double alpha, Region a,
                            Region b, double beta, Region c) {
        long macs = (long) m * n * k;
        int parts = par == null ? 1 : (int) Math.min(par.threads(), macs / (par.minWork() * MACS_PER_WORK));
        boolean byRows = m >= n;
        int extent = byRows ? m : n;
        int blocks = (extent + ALIGN - 1) / ALIGN;
        if (parts <= 1 || blocks < 2) {
            gemm(transA, transB, m, n, k, alpha, a, b, beta, c);
            return;
        }
        par.forRanges(blocks, Math.max(1, blocks / parts), (part, from, to) -> {
            int lo = from * ALIGN;
            int len = Math.min(extent, to * ALIGN) - lo;
            if (byRows) {
                gemm(transA, transB, len, n, k, alpha, transA ? a.at(0, lo) : a.at(lo, 0), b, beta, c.at(lo, 0));
            } else {
                gemm(transA, transB, m, len, k, alpha, a, transB ? b.at(lo, 0) : b.at(0, lo), beta, c.at(0, lo));
            }
        });
    }

    /**
     * A reusable pointer to one fp32 operand's memory for many GEMMs on regions of it ({@link #sgemm}): building an
     * operand's pointer (an ND4J address look-up through JNI and two pointer objects) cost a fair part of a small
     * attention head's few-microsecond GEMM. Not thread-safe (each GEMM repositions it): one per operand and thread.
     */
    public static final class F32Operand {
        private final FloatPointer p;
        private final long base;

        public F32Operand(INDArray a) {
            requireCpuBackend();
            check(new Region(a, 0, 1), DataType.FLOAT);
            this.p = new FloatPointer(a.data().addressPointer());
            this.base = a.offset();
        }

        FloatPointer at(Region r) {
            return p.position(base + r.offset());
        }
    }

    /**
     * As {@link #gemm(boolean, boolean, int, int, int, double, Region, Region, double, Region)} on fp32 regions through
     * reusable operands: {@code a}, {@code b} and {@code c} must be distinct objects (each is positioned on its region),
     * made for the regions' arrays.
     */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, F32Operand pa, Region a,
                             F32Operand pb, Region b, float beta, F32Operand pc, Region c) {
        if (m == 0 || n == 0) {
            return;
        }
        openblas.cblas_sgemm(openblas.CblasRowMajor, transA ? openblas.CblasTrans : openblas.CblasNoTrans,
                transB ? openblas.CblasTrans : openblas.CblasNoTrans, m, n, k, alpha, pa.at(a), a.ld(), pb.at(b), b.ld(), beta,
                pc.at(c), c.ld());
    }

    private static FloatPointer fp(Region r) {
        check(r, DataType.FLOAT);
        FloatPointer p = new FloatPointer(r.array().data().addressPointer());
        return p.position(r.array().offset() + r.offset());
    }

    private static DoublePointer dp(Region r) {
        check(r, DataType.DOUBLE);
        DoublePointer p = new DoublePointer(r.array().data().addressPointer());
        return p.position(r.array().offset() + r.offset());
    }

    private static void check(Region r, DataType t) {
        if (r.array().dataType() != t) {
            throw new IllegalArgumentException("GEMM operands must all be " + t + ", got " + r.array().dataType());
        }
        if (r.array().ordering() != 'c') {
            throw new IllegalArgumentException("GEMM operands must be c-order");
        }
    }

    /** OpenBLAS's thread count (set once per process by {@code NativeThreads}). */
    public static int threads() {
        return openblas.blas_get_num_threads();
    }
}
