package io.fedlora.agent.train;

import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;

import java.util.Properties;

/**
 * Which ND4J backend and device this JVM computes on (CPU nd4j-native or CUDA), for the agent's startup log and the
 * benchmark's output.
 *
 * @param backend    backend class (e.g. {@code CpuBackend}, {@code JCublasBackend})
 * @param device     {@code CPU} or the CUDA device name(s) the executioner reports
 * @param blasVendor BLAS library reported by the backend (OpenBLAS, MKL, cuBLAS)
 * @param cores      cores the backend sees
 * @param ompThreads native threads per op
 */
public record BackendInfo(String backend, String device, String blasVendor, int cores, int ompThreads) {

    /** Reads the loaded backend's environment (initialises ND4J if it is not yet). */
    public static BackendInfo current() {
        String backend = Nd4j.getBackend().getClass().getSimpleName();
        Properties env = Nd4j.getExecutioner().getEnvironmentInformation();
        Object devices = env.get("cuda.devicesInformation");
        String device = devices != null ? "CUDA " + devices : String.valueOf(env.getOrDefault("backend", "CPU"));
        return new BackendInfo(backend, device, String.valueOf(env.getOrDefault("blas.vendor", "unknown")),
                intOf(env.get("cores")), intOf(env.get("omp.threads")));
    }

    /** One-line description for logs. */
    public String summary() {
        return "ND4J backend " + backend + " on " + device + " (BLAS " + blasVendor + ", " + cores + " cores, "
                + ompThreads + " native threads)";
    }

    public void log(Logger logger) {
        logger.info("{}", summary());
    }

    private static int intOf(Object o) {
        if (o instanceof Number n) {
            return n.intValue();
        }
        try {
            return o == null ? -1 : Integer.parseInt(o.toString());
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
