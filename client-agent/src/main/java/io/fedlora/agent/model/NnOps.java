package io.fedlora.agent.model;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The differentiable building blocks of GPT-2 as forward/backward pairs over 2-D {@code [rows, features]} INDArrays.
 * Every result keeps the inputs' element type, so the same code runs in fp32 for training and fp64 for gradient checks.
 */
final class NnOps {

    /** sqrt(2/π), the constant of GPT-2's {@code gelu_new}. */
    private static final double GELU_C = Math.sqrt(2.0 / Math.PI);
    private static final double GELU_K = 0.044715;

    private NnOps() {
    }

    /** What layer-norm backward needs: the normalised input and the reciprocal standard deviation per row. */
    record LayerNormCache(INDArray xhat, INDArray rstd) {
    }

    /** y = (x − mean) / sqrt(var + eps) · gamma + beta, statistics per row; xhat/rstd go into {@code cache[0]}. */
    static INDArray layerNorm(INDArray x, INDArray gamma, INDArray beta, double eps, LayerNormCache[] cache) {
        INDArray xc = x.subColumnVector(x.mean(true, 1));
        INDArray var = xc.mul(xc).mean(true, 1);
        INDArray rstd = Transforms.pow(var.addi(eps), -0.5, false);
        INDArray xhat = xc.muliColumnVector(rstd);
        if (cache != null) {
            cache[0] = new LayerNormCache(xhat, rstd);
        }
        return xhat.mulRowVector(gamma).addiRowVector(beta);
    }

    /** dx of layer norm; dGamma/dBeta are written to {@code paramGrads[0..1]} when that array is given. */
    static INDArray layerNormBackward(INDArray dy, INDArray gamma, LayerNormCache c, INDArray[] paramGrads) {
        if (paramGrads != null) {
            paramGrads[0] = dy.mul(c.xhat()).sum(0);
            paramGrads[1] = dy.sum(0);
        }
        INDArray dxhat = dy.mulRowVector(gamma);
        INDArray m1 = dxhat.mean(true, 1);
        INDArray m2 = dxhat.mul(c.xhat()).mean(true, 1);
        return dxhat.subiColumnVector(m1).subi(c.xhat().mulColumnVector(m2)).muliColumnVector(c.rstd());
    }

    /** GPT-2's gelu_new: 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³))); tanh(...) goes into {@code tanhOut[0]}. */
    static INDArray geluNew(INDArray x, INDArray[] tanhOut) {
        INDArray inner = x.mul(x).muli(x).muli(GELU_K).addi(x).muli(GELU_C);
        INDArray t = Transforms.tanh(inner, false);
        if (tanhOut != null) {
            tanhOut[0] = t;
        }
        return t.add(1.0).muli(x).muli(0.5);
    }

    /** d gelu_new: dy · (0.5·(1+t) + 0.5·x·(1−t²)·sqrt(2/π)·(1 + 3·0.044715·x²)). */
    static INDArray geluNewBackward(INDArray dy, INDArray x, INDArray t) {
        INDArray sech2 = t.mul(t).rsubi(1.0);
        INDArray dInner = x.mul(x).muli(3 * GELU_K).addi(1.0).muli(GELU_C);
        INDArray grad = sech2.muli(dInner).muli(x).muli(0.5).addi(t.add(1.0).muli(0.5));
        return grad.muli(dy);
    }

    /** Row-wise softmax of a 2-D array, in place. */
    static INDArray softmaxRowsInPlace(INDArray x2d) {
        Nd4j.getExecutioner().exec(new SoftMax(x2d, x2d, 1));
        return x2d;
    }

    /** Softmax backward for rows: dS = P ⊙ (dP − rowsum(dP ⊙ P)); overwrites and returns dP. */
    static INDArray softmaxRowsBackwardInPlace(INDArray dP2d, INDArray p2d) {
        INDArray dot = dP2d.mul(p2d).sum(true, 1);
        return dP2d.subiColumnVector(dot).muli(p2d);
    }
}
