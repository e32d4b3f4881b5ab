package io.fedlora.agent.model.ops;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * GPT-2's {@code gelu_new}, {@code 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³)))}, elementwise. Backward recomputes
 * the tanh from the pre-activation rather than storing it (one array fewer per block).
 */
public final class GeluNew {

    private static final double C = Math.sqrt(2.0 / Math.PI);
    private static final double K = 0.044715;

    private GeluNew() {
    }

    /** Elements per chunk: copied out of native memory into a Java array, where the JIT vectorises the loop. */
    private static final int CHUNK = 2048;

    public static void forward(INDArray x, INDArray y, Parallel par) {
        Dense xs = Dense.of(x);
        Dense ys = Dense.of(y);
        if (xs instanceof Dense.F32 fx && ys instanceof Dense.F32 fy) {
            forwardF32(fx, fy, par);
            return;
        }
        boolean fast = xs.single();
        par.forRanges((xs.length() + CHUNK - 1) / CHUNK, par.minItems(20L * CHUNK), (p, fromChunk, toChunk) -> {
            double[] v = new double[CHUNK];
            float[] st = xs.stage(CHUNK);
            for (int ch = fromChunk; ch < toChunk; ch++) {
                int from = ch * CHUNK;
                int len = Math.min(CHUNK, xs.length() - from);
                xs.read(from, v, len, st);
                if (fast) {
                    for (int i = 0; i < len; i++) {
                        double a = v[i];
                        v[i] = 0.5 * a * (1 + tanhFloat(C * (a + K * a * a * a)));
                    }
                } else {
                    for (int i = 0; i < len; i++) {
                        double a = v[i];
                        v[i] = 0.5 * a * (1 + tanh(C * (a + K * a * a * a)));
                    }
                }
                ys.write(from, v, len, st);
            }
        });
    }

    /** dx = dy · gelu'(x), written into {@code dx} (which may be {@code dy} itself). */
    public static void backward(INDArray dy, INDArray x, INDArray dx, Parallel par) {
        Dense dys = Dense.of(dy);
        Dense xs = Dense.of(x);
        Dense dxs = Dense.of(dx);
        if (dys instanceof Dense.F32 fdy && xs instanceof Dense.F32 fx && dxs instanceof Dense.F32 fdx) {
            backwardF32(fdy, fx, fdx, par);
            return;
        }
        boolean fast = xs.single();
        par.forRanges((xs.length() + CHUNK - 1) / CHUNK, par.minItems(20L * CHUNK), (p, fromChunk, toChunk) -> {
            double[] v = new double[CHUNK];
            double[] g = new double[CHUNK];
            float[] st = xs.stage(CHUNK);
            for (int ch = fromChunk; ch < toChunk; ch++) {
                int from = ch * CHUNK;
                int len = Math.min(CHUNK, xs.length() - from);
                xs.read(from, v, len, st);
                dys.read(from, g, len, st);
                if (fast) {
                    for (int i = 0; i < len; i++) {
                        double a = v[i];
                        double t = tanhFloat(C * (a + K * a * a * a));
                        g[i] *= 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * C * (1 + 3 * K * a * a);
                    }
                } else {
                    for (int i = 0; i < len; i++) {
                        double a = v[i];
                        double t = tanh(C * (a + K * a * a * a));
                        g[i] *= 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * C * (1 + 3 * K * a * a);
                    }
                }
                dxs.write(from, g, len, st);
            }
        });
    }

    private static final float CF = (float) C;
    private static final float KF = (float) K;

    /**
     * fp32 arrays in fp32 arithmetic: no widening copies, and twice the SIMD lanes of the fp64 loop (GELU was about
     * a sixth of a small model's step).
     */
    private static void forwardF32(Dense.F32 xs, Dense.F32 ys, Parallel par) {
        par.forRanges((xs.length() + CHUNK - 1) / CHUNK, par.minItems(10L * CHUNK), (p, fromChunk, toChunk) -> {
            float[] v = new float[CHUNK];
            for (int ch = fromChunk; ch < toChunk; ch++) {
                int from = ch * CHUNK;
                int len = Math.min(CHUNK, xs.length() - from);
                xs.getFloats(from, v, len);
                for (int i = 0; i < len; i++) {
                    float a = v[i];
                    v[i] = 0.5f * a * (1f + tanhF(CF * (a + KF * a * a * a)));
                }
                ys.putFloats(from, v, len);
            }
        });
    }

    private static void backwardF32(Dense.F32 dys, Dense.F32 xs, Dense.F32 dxs, Parallel par) {
        par.forRanges((xs.length() + CHUNK - 1) / CHUNK, par.minItems(10L * CHUNK), (p, fromChunk, toChunk) -> {
            float[] v = new float[CHUNK];
            float[] g = new float[CHUNK];
            for (int ch = fromChunk; ch < toChunk; ch++) {
                int from = ch * CHUNK;
                int len = Math.min(CHUNK, xs.length() - from);
                xs.getFloats(from, v, len);
                dys.getFloats(from, g, len);
                for (int i = 0; i < len; i++) {
                    float a = v[i];
                    float t = tanhF(CF * (a + KF * a * a * a));
                    v[i] = 0.5f * (1f + t) + 0.5f * a * (1f - t * t) * CF * (1f + 3f * KF * a * a);
                }
                for (int i = 0; i < len; i++) {
                    g[i] *= v[i];
                }
                dxs.putFloats(from, g, len);
            }
        });
    }

    /** {@link #tanhFloat} evaluated in fp32 (the precision Eigen's coefficients are made for). */
    static float tanhF(float z) {
        float x = Math.max(-7.90531110763549805f, Math.min(7.90531110763549805f, z));
        float x2 = x * x;
        float p = -2.76076847742355e-16f;
        p = p * x2 + 2.00018790482477e-13f;
        p = p * x2 - 8.60467152213735e-11f;
        p = p * x2 + 5.12229709037114e-08f;
        p = p * x2 + 1.48572235717979e-05f;
        p = p * x2 + 6.37261928875436e-04f;
        p = p * x2 + 4.89352455891786e-03f;
        float q = 1.19825839466702e-06f;
        q = q * x2 + 1.18534705686654e-04f;
        q = q * x2 + 2.26843463243900e-03f;
        q = q * x2 + 4.89352518554385e-03f;
        return x * p / q;
    }

    /**
     * tanh to fp32 accuracy (a few ulp) as a branch-free 13/6 rational function (Eigen's {@code ptanh_float}
     * coefficients): no exp, about five times faster than {@link #tanh}, for fp32 arrays only.
     */
    static double tanhFloat(double z) {
        double x = Math.max(-7.90531110763549805, Math.min(7.90531110763549805, z));
        double x2 = x * x;
        double p = -2.76076847742355e-16;
        p = p * x2 + 2.00018790482477e-13;
        p = p * x2 - 8.60467152213735e-11;
        p = p * x2 + 5.12229709037114e-08;
        p = p * x2 + 1.48572235717979e-05;
        p = p * x2 + 6.37261928875436e-04;
        p = p * x2 + 4.89352455891786e-03;
        double q = 1.19825839466702e-06;
        q = q * x2 + 1.18534705686654e-04;
        q = q * x2 + 2.26843463243900e-03;
        q = q * x2 + 4.89352518554385e-03;
        return x * p / q;
    }

    /** tanh through one exp (Math.tanh is several times slower); exact to double rounding for |z| < 20. */
    static double tanh(double z) {
        if (z > 20) {
            return 1;
        }
        if (z < -20) {
            return -1;
        }
        if (Math.abs(z) < 1e-4) {
            return z - z * z * z / 3;
        }
        double e = Math.exp(2 * z);
        return (e - 1) / (e + 1);
    }
}
