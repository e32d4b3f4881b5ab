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

    public static void forward(INDArray x, INDArray y, Parallel par) {
        Dense xs = Dense.of(x);
        Dense ys = Dense.of(y);
        par.forRanges(xs.length(), 4096, (p, from, to) -> {
            for (int i = from; i < to; i++) {
                double v = xs.get(i);
                ys.set(i, 0.5 * v * (1 + tanh(C * (v + K * v * v * v))));
            }
        });
    }

    /** dx = dy · gelu'(x), written into {@code dx} (which may be {@code dy} itself). */
    public static void backward(INDArray dy, INDArray x, INDArray dx, Parallel par) {
        Dense dys = Dense.of(dy);
        Dense xs = Dense.of(x);
        Dense dxs = Dense.of(dx);
        par.forRanges(xs.length(), 4096, (p, from, to) -> {
            for (int i = from; i < to; i++) {
                double v = xs.get(i);
                double t = tanh(C * (v + K * v * v * v));
                double d = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * C * (1 + 3 * K * v * v);
                dxs.set(i, dys.get(i) * d);
            }
        });
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
