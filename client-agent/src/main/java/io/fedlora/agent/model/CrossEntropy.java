package io.fedlora.agent.model;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/** Softmax cross-entropy over a batch's weighted target tokens, with the gradient of the mean loss. */
final class CrossEntropy {

    private CrossEntropy() {
    }

    record Loss(double loss, double count, INDArray dLogits) {
    }

    static Loss of(INDArray logits, TokenBatch batch, int vocabSize, boolean withGrad) {
        int n = batch.rows();
        int[] targets = batch.targetIds();
        float[] w = batch.lossWeights();
        double count = batch.targetCount();
        if (count <= 0) {
            throw new IllegalArgumentException("batch has no target tokens");
        }
        INDArray max = logits.max(true, 1);
        INDArray shifted = logits.subColumnVector(max);
        INDArray exp = Transforms.exp(shifted, true);
        INDArray sumExp = exp.sum(true, 1);
        double[] logSum = Transforms.log(sumExp, true).toDoubleVector();
        double total = 0;
        for (int i = 0; i < n; i++) {
            if (w[i] != 0f) {
                int tg = targets[i];
                if (tg < 0 || tg >= vocabSize) {
                    throw new IllegalArgumentException("target id " + tg + " outside the vocabulary of " + vocabSize);
                }
                total += w[i] * (logSum[i] - shifted.getDouble(i, tg));
            }
        }
        INDArray dLogits = null;
        if (withGrad) {
            dLogits = exp.diviColumnVector(sumExp);
            double[] scale = new double[n];
            for (int i = 0; i < n; i++) {
                if (w[i] != 0f) {
                    dLogits.putScalar(i, targets[i], dLogits.getDouble(i, targets[i]) - 1.0);
                    scale[i] = w[i] / count;
                }
            }
            dLogits.muliColumnVector(Nd4j.create(scale, new long[]{n, 1}, 'c').castTo(logits.dataType()));
        }
        return new Loss(total / count, count, dLogits);
    }
}
