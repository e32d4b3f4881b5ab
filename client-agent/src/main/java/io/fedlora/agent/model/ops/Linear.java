package io.fedlora.agent.model.ops;

import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.WeightLayout;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A projection {@code y = x·W (+ b) (+ s·(x·Aᵀ)·Bᵀ)} with the weight in either layout: {@link WeightLayout#CONV1D}
 * (GPT-2, {@code W [in, out]}) or {@link WeightLayout#LINEAR} (Llama and {@code nn.Linear}, {@code W [out, in]}).
 * A is {@code r × in} and B {@code out × r} in both. Every product is one OpenBLAS GEMM on the arrays' memory; the
 * bias is written first and the GEMM accumulates onto it, so there is no separate bias pass.
 *
 * @param bias  may be null
 * @param lora  may be null (a frozen, unadapted layer)
 * @param scale the adapter's scale s
 */
public record Linear(INDArray weight, WeightLayout layout, INDArray bias, LoraFactors lora, double scale) {

    public int in() {
        return (int) (layout == WeightLayout.CONV1D ? weight.size(0) : weight.size(1));
    }

    public int out() {
        return (int) (layout == WeightLayout.CONV1D ? weight.size(1) : weight.size(0));
    }

    /**
     * Writes {@code y [n, out]} from {@code x [n, in]}; returns {@code u = x·Aᵀ [n, r]} for the backward pass (null
     * without an adapter).
     */
    public INDArray forward(INDArray x, INDArray y, Parallel par) {
        int n = (int) x.size(0);
        double beta = 0;
        if (bias != null) {
            int o = out();
            double[] row = new double[o];
            Dense.of(bias).read(0, row, o);
            Dense.of(y).fillRows(row, o, n);
            beta = 1;
        }
        Blas.gemm(par, x, false, weight, layout == WeightLayout.LINEAR, 1.0, beta, y);
        if (lora == null) {
            return null;
        }
        INDArray u = Tensors.empty(x.dataType(), n, lora.a().size(0));
        Blas.gemm(par, x, false, lora.a(), true, 1.0, 0.0, u);
        Blas.gemm(par, u, false, lora.b(), true, scale, 1.0, y);
        return u;
    }

    /** Where the backward pass writes parameter gradients; a null field is not computed. */
    public record Grads(INDArray dWeight, INDArray dBias, INDArray dA, INDArray dB) {
        public static final Grads NONE = new Grads(null, null, null, null);
    }

    /**
     * Backward of {@link #forward}: writes (or with {@code accumulate}, adds) dx into {@code dx} when it is non-null,
     * and the gradients {@code grads} asks for.
     *
     * @param u the forward's {@code x·Aᵀ}
     */
    public void backward(INDArray dy, INDArray x, INDArray u, INDArray dx, boolean accumulate, Grads grads, Parallel par) {
        int n = (int) dy.size(0);
        if (dx != null) {
            Blas.gemm(par, dy, false, weight, layout == WeightLayout.CONV1D, 1.0, accumulate ? 1.0 : 0.0, dx);
        }
        if (lora != null && (dx != null || grads.dA() != null || grads.dB() != null)) {
            if (grads.dB() != null) {
                Blas.gemm(par, dy, true, u, false, scale, 0.0, grads.dB());
            }
            if (dx != null || grads.dA() != null) {
                INDArray du = Tensors.empty(dy.dataType(), n, lora.a().size(0));
                Blas.gemm(par, dy, false, lora.b(), false, scale, 0.0, du);
                if (grads.dA() != null) {
                    Blas.gemm(par, du, true, x, false, 1.0, 0.0, grads.dA());
                }
                if (dx != null) {
                    Blas.gemm(par, du, false, lora.a(), false, 1.0, 1.0, dx);
                }
            }
        }
        if (grads.dWeight() != null) {
            if (layout == WeightLayout.CONV1D) {
                Blas.gemm(par, x, true, dy, false, 1.0, 0.0, grads.dWeight());
            } else {
                Blas.gemm(par, dy, true, x, false, 1.0, 0.0, grads.dWeight());
            }
        }
        if (grads.dBias() != null) {
            columnSums(dy, grads.dBias());
        }
    }

    /** out[j] = Σ_r m[r, j], summed in row order. */
    static void columnSums(INDArray m, INDArray out) {
        int n = (int) m.size(0);
        int c = (int) m.size(1);
        Dense ms = Dense.of(m);
        double[] s = new double[c];
        double[] row = new double[c];
        for (int r = 0; r < n; r++) {
            ms.read(r * c, row, c);
            for (int j = 0; j < c; j++) {
                s[j] += row[j];
            }
        }
        Dense os = Dense.of(out);
        for (int j = 0; j < c; j++) {
            os.set(j, s[j]);
        }
    }
}
