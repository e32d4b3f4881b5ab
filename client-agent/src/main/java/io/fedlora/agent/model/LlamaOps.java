package io.fedlora.agent.model;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The building blocks Llama-layout models add to GPT-2's, as forward/backward pairs over INDArrays in the style of
 * the network ops: RMSNorm, rotary position embeddings (HF's {@code rotate_half} convention) and the SwiGLU gate. Every
 * result keeps the inputs' element type, so the same code runs in fp32 for training and fp64 for gradient checks.
 */
final class LlamaOps {

    private LlamaOps() {
    }

    /** What RMSNorm backward needs: the normalised input and the reciprocal RMS per row. */
    record RmsNormCache(INDArray xhat, INDArray rrms) {
    }

    /** y = x / sqrt(mean(x²) + eps) · gamma, per row of {@code [rows, features]}; the cache goes into {@code cache[0]}. */
    static INDArray rmsNorm(INDArray x, INDArray gamma, double eps, RmsNormCache[] cache) {
        INDArray ms = x.mul(x).mean(true, 1);
        INDArray rrms = Transforms.pow(ms.addi(eps), -0.5, false);
        INDArray xhat = x.mulColumnVector(rrms);
        if (cache != null) {
            cache[0] = new RmsNormCache(xhat, rrms);
        }
        return xhat.mulRowVector(gamma);
    }

    /** dx of RMSNorm; dGamma goes into {@code gammaGrad[0]} when that array is given. */
    static INDArray rmsNormBackward(INDArray dy, INDArray gamma, RmsNormCache c, INDArray[] gammaGrad) {
        if (gammaGrad != null) {
            gammaGrad[0] = dy.mul(c.xhat()).sum(0);
        }
        INDArray dxhat = dy.mulRowVector(gamma);
        INDArray m = dxhat.mul(c.xhat()).mean(true, 1);
        return dxhat.subi(c.xhat().mulColumnVector(m)).muliColumnVector(c.rrms());
    }

    /** cos and sin tables {@code [t, headDim]} of positions 0..t-1: HF's {@code cat(freqs, freqs)}. */
    record Rotary(INDArray cos, INDArray sin) {
    }

    /** The rotary tables, with HF's inverse frequencies {@code 1 / theta^(2i / headDim)}. */
    static Rotary rotary(int t, int headDim, double theta, DataType dtype) {
        int half = headDim / 2;
        double[] cos = new double[t * headDim];
        double[] sin = new double[t * headDim];
        for (int i = 0; i < half; i++) {
            // HF computes the inverse frequencies in fp32; do the same so long sequences match it
            float invFreq = (float) (1.0 / Math.pow(theta, (float) (2 * i) / headDim));
            for (int p = 0; p < t; p++) {
                float angle = (float) p * invFreq;
                double c = Math.cos(angle);
                double s = Math.sin(angle);
                cos[p * headDim + i] = c;
                cos[p * headDim + half + i] = c;
                sin[p * headDim + i] = s;
                sin[p * headDim + half + i] = s;
            }
        }
        return new Rotary(Nd4j.create(cos, new long[]{t, headDim}, 'c').castTo(dtype),
                Nd4j.create(sin, new long[]{t, headDim}, 'c').castTo(dtype));
    }

    /** x·cos + rotate_half(x)·sin on {@code [groups, t, headDim]} (rotate_half(x) = [−x₂, x₁]). */
    static INDArray rope(INDArray x, Rotary r) {
        long g = x.size(0);
        long t = x.size(1);
        long d = x.size(2);
        INDArray flat = x.reshape('c', g, t * d);
        INDArray out = flat.mulRowVector(r.cos().reshape('c', 1, t * d));
        out.addi(rotateHalf(x).reshape('c', g, t * d).muliRowVector(r.sin().reshape('c', 1, t * d)));
        return out.reshape('c', g, t, d);
    }

    /** dx of {@link #rope}: dy·cos − rotate_half(dy·sin), because rotate_half's transpose is its negation. */
    static INDArray ropeBackward(INDArray dy, Rotary r) {
        long g = dy.size(0);
        long t = dy.size(1);
        long d = dy.size(2);
        INDArray flat = dy.reshape('c', g, t * d);
        INDArray dySin = flat.mulRowVector(r.sin().reshape('c', 1, t * d)).reshape('c', g, t, d);
        INDArray out = flat.mulRowVector(r.cos().reshape('c', 1, t * d));
        out.subi(rotateHalf(dySin).reshape('c', g, t * d));
        return out.reshape('c', g, t, d);
    }

    /** [−x₂, x₁] along the last axis of {@code [groups, t, headDim]}. */
    static INDArray rotateHalf(INDArray x) {
        long d = x.size(2);
        long half = d / 2;
        INDArray rows = x.reshape('c', x.size(0) * x.size(1), d);
        INDArray x1 = rows.get(NDArrayIndex.all(), NDArrayIndex.interval(0, half));
        INDArray x2 = rows.get(NDArrayIndex.all(), NDArrayIndex.interval(half, d));
        return Nd4j.concat(1, x2.neg(), x1).reshape('c', x.size(0), x.size(1), d);
    }

    /** What SwiGLU backward needs: the gate pre-activation, its sigmoid and the up projection. */
    record SwiGluCache(INDArray gate, INDArray sigmoid, INDArray up, INDArray silu) {
    }

    /** silu(gate) ⊙ up, with silu(a) = a·σ(a); the cache goes into {@code cache[0]}. */
    static INDArray swiGlu(INDArray gate, INDArray up, SwiGluCache[] cache) {
        INDArray sig = Transforms.sigmoid(gate, true);
        INDArray silu = gate.mul(sig);
        if (cache != null) {
            cache[0] = new SwiGluCache(gate, sig, up, silu);
        }
        return silu.mul(up);
    }

    /** Gradients of gate and up: d up = dy ⊙ silu(a); d a = dy ⊙ up ⊙ σ(a)·(1 + a·(1 − σ(a))). */
    static INDArray[] swiGluBackward(INDArray dy, SwiGluCache c) {
        INDArray dUp = dy.mul(c.silu());
        INDArray dSilu = c.sigmoid().rsub(1.0).muli(c.gate()).addi(1.0).muli(c.sigmoid());
        INDArray dGate = dy.mul(c.up()).muli(dSilu);
        return new INDArray[]{dGate, dUp};
    }

    /** Row-wise softmax of a 2-D array, in place. */
    static INDArray softmaxRowsInPlace(INDArray x2d) {
        Nd4j.getExecutioner().exec(new org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax(x2d, x2d, 1));
        return x2d;
    }

    /** Softmax backward for rows: dS = P ⊙ (dP − rowsum(dP ⊙ P)); overwrites and returns dP. */
    static INDArray softmaxRowsBackwardInPlace(INDArray dP2d, INDArray p2d) {
        INDArray dot = dP2d.mul(p2d).sum(true, 1);
        return dP2d.subiColumnVector(dot).muli(p2d);
    }
}
