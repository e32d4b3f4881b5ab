package io.fedlora.agent.model.ops;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The gated MLP activation of Llama-family models, {@code y = silu(gate) ⊙ up} with {@code silu(a) = a·σ(a)}
 * (HF {@code hidden_act: silu}), elementwise over the gate and up projections. Backward recomputes σ from the gate
 * pre-activation rather than storing it, and never needs {@code y}.
 */
public final class SwiGlu {

    /** Elements per chunk: copied out of native memory into a Java array, where the JIT vectorises the loop. */
    private static final int CHUNK = 2048;

    private SwiGlu() {
    }

    /** silu(a) = a·σ(a). */
    public static double silu(double a) {
        return a / (1 + Math.exp(-a));
    }

    /** d silu / da = σ(a)·(1 + a·(1 − σ(a))). */
    public static double siluGrad(double a) {
        double s = 1 / (1 + Math.exp(-a));
        return s * (1 + a * (1 - s));
    }

    /** y = silu(gate) ⊙ up ({@code y} may alias either input). */
    public static void forward(INDArray gate, INDArray up, INDArray y, Parallel par) {
        Dense gs = Dense.of(gate);
        Dense us = Dense.of(up);
        Dense ys = Dense.of(y);
        par.forRanges((gs.length() + CHUNK - 1) / CHUNK, 2, (p, fromChunk, toChunk) -> {
            double[] g = new double[CHUNK];
            double[] u = new double[CHUNK];
            for (int ch = fromChunk; ch < toChunk; ch++) {
                int from = ch * CHUNK;
                int len = Math.min(CHUNK, gs.length() - from);
                gs.read(from, g, len);
                us.read(from, u, len);
                for (int i = 0; i < len; i++) {
                    g[i] = silu(g[i]) * u[i];
                }
                ys.write(from, g, len);
            }
        });
    }

    /** d up = dy ⊙ silu(gate) and d gate = dy ⊙ up ⊙ silu'(gate), written into {@code dGate} and {@code dUp}. */
    public static void backward(INDArray dy, INDArray gate, INDArray up, INDArray dGate, INDArray dUp, Parallel par) {
        Dense dys = Dense.of(dy);
        Dense gs = Dense.of(gate);
        Dense us = Dense.of(up);
        Dense dgs = Dense.of(dGate);
        Dense dus = Dense.of(dUp);
        par.forRanges((gs.length() + CHUNK - 1) / CHUNK, 2, (p, fromChunk, toChunk) -> {
            double[] d = new double[CHUNK];
            double[] g = new double[CHUNK];
            double[] u = new double[CHUNK];
            for (int ch = fromChunk; ch < toChunk; ch++) {
                int from = ch * CHUNK;
                int len = Math.min(CHUNK, gs.length() - from);
                dys.read(from, d, len);
                gs.read(from, g, len);
                us.read(from, u, len);
                for (int i = 0; i < len; i++) {
                    double a = g[i];
                    double s = 1 / (1 + Math.exp(-a));
                    double grad = d[i];
                    g[i] = grad * u[i] * s * (1 + a * (1 - s));
                    u[i] = grad * a * s;
                }
                dgs.write(from, g, len);
                dus.write(from, u, len);
            }
        });
    }
}
