package io.fedlora.agent.daemon;

import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.NativeOpsHolder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sets the thread count of ND4J's native backend, OpenBLAS and (through {@code Parallel.matchingBlas()}) the Java
 * kernels' pool. Default (0): {@code OMP_NUM_THREADS} when the environment sets it, else every core this process may
 * use ({@link Runtime#availableProcessors()}, which honours the container's CPU quota and affinity). The OpenMP
 * runtime reads {@code OMP_NUM_THREADS} when the native library loads, which a running JVM cannot change; so the
 * launcher exports that variable, and this class also sets the limits ND4J and OpenBLAS expose at run time. Training
 * results are reproducible for a fixed seed and thread count (OpenBLAS may pick other kernels at other counts).
 */
public final class NativeThreads {

    private static final Logger log = LoggerFactory.getLogger(NativeThreads.class);

    private NativeThreads() {}

    /** The default thread count: OMP_NUM_THREADS if set and valid, else the cores available to the process. */
    public static int defaultThreads() {
        String env = System.getenv("OMP_NUM_THREADS");
        if (env != null) {
            try {
                int n = Integer.parseInt(env.trim());
                if (n > 0) {
                    return n;
                }
            } catch (NumberFormatException e) {
                log.warn("ignoring OMP_NUM_THREADS={} (not a positive integer)", env);
            }
        }
        return Math.max(1, Runtime.getRuntime().availableProcessors());
    }

    /** Applies {@code threads} (0 or less: {@link #defaultThreads()}); returns the count applied. */
    public static int apply(int threads) {
        String env = System.getenv("OMP_NUM_THREADS");
        int n = threads > 0 ? threads : defaultThreads();
        if (threads > 0 && env != null && !env.equals(Integer.toString(threads))) {
            log.warn("OMP_NUM_THREADS={} but {} threads were asked for; using {}", env, threads, threads);
        }
        Nd4j.getEnvironment().setMaxMasterThreads(n);
        Nd4j.getEnvironment().setMaxThreads(n);
        NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(n);
        Nd4j.factory().blas().setMaxThreads(n);
        org.bytedeco.openblas.global.openblas.blas_set_num_threads(n);
        log.debug("native threads: {}", n);
        return n;
    }
}
