package io.fedlora.agent.daemon;

import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.NativeOpsHolder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Caps ND4J's native threads at {@code fedlora.agent.omp-threads}. The OpenMP runtime reads
 * {@code OMP_NUM_THREADS} when the native library loads, which a running JVM cannot change; so the launcher
 * exports that variable (the demo starts each agent with {@code OMP_NUM_THREADS=1}), and this class also
 * sets the limits ND4J exposes at run time so the property alone is honoured as far as the backend allows.
 */
public final class NativeThreads {

    private static final Logger log = LoggerFactory.getLogger(NativeThreads.class);

    private NativeThreads() {}

    public static void apply(int threads) {
        String env = System.getenv("OMP_NUM_THREADS");
        if (threads <= 0) {
            if (env != null) {
                log.info("native threads from OMP_NUM_THREADS={}", env);
            }
            return;
        }
        if (env != null && !env.equals(Integer.toString(threads))) {
            log.warn("OMP_NUM_THREADS={} but fedlora.agent.omp-threads={}; using {}", env, threads, threads);
        }
        Nd4j.getEnvironment().setMaxMasterThreads(threads);
        Nd4j.getEnvironment().setMaxThreads(threads);
        NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(threads);
        Nd4j.factory().blas().setMaxThreads(threads);
    }
}
