package io.fedlora.agent.model.ops;

import org.nd4j.linalg.api.ndarray.INDArray;

/** Residual additions and copies over whole arrays, split over the pool. */
public final class Elementwise {

    private Elementwise() {
    }

    /** out = a + b (out may alias a or b). */
    public static void add(INDArray a, INDArray b, INDArray out, Parallel par) {
        Dense as = Dense.of(a);
        Dense bs = Dense.of(b);
        Dense os = Dense.of(out);
        int chunk = 2048;
        if (as instanceof Dense.F32 fa && bs instanceof Dense.F32 fb && os instanceof Dense.F32 fo) {
            addF32(fa, fb, fo, chunk, par);
            return;
        }
        par.forRanges((as.length() + chunk - 1) / chunk, par.minItems(3L * chunk), (p, fromChunk, toChunk) -> {
            double[] x = new double[chunk];
            double[] y = new double[chunk];
            float[] st = as.stage(chunk);
            for (int ch = fromChunk; ch < toChunk; ch++) {
                int from = ch * chunk;
                int len = Math.min(chunk, as.length() - from);
                as.read(from, x, len, st);
                bs.read(from, y, len, st);
                for (int i = 0; i < len; i++) {
                    x[i] += y[i];
                }
                os.write(from, x, len, st);
            }
        });
    }

    /**
     * fp32 arrays added in fp32 (the correctly rounded sum, as the fp64 sum rounded to fp32 gives): no widening copies,
     * so the loop compiles to SIMD code.
     */
    private static void addF32(Dense.F32 as, Dense.F32 bs, Dense.F32 os, int chunk, Parallel par) {
        par.forRanges((as.length() + chunk - 1) / chunk, par.minItems(3L * chunk), (p, fromChunk, toChunk) -> {
            float[] x = new float[chunk];
            float[] y = new float[chunk];
            for (int ch = fromChunk; ch < toChunk; ch++) {
                int from = ch * chunk;
                int len = Math.min(chunk, as.length() - from);
                as.getFloats(from, x, len);
                bs.getFloats(from, y, len);
                for (int i = 0; i < len; i++) {
                    x[i] += y[i];
                }
                os.putFloats(from, x, len);
            }
        });
    }
}
