package io.fedlora.agent.model;

import io.fedlora.agent.model.ops.LmHeadLoss;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** Forward and backward pass of a causal LM with LoRA adapters, whatever its family. */
public interface LmNetwork {

    /** Next-token logits {@code [batch·seq, vocab]} (row {@code b·seq + t} predicts the token after position t). */
    INDArray logits(TokenBatch batch);

    /**
     * As {@link #logits(TokenBatch)}, written into rows {@code [firstRow, firstRow + batch·seq)} of {@code out} (dense
     * c-order {@code [rows, vocab]}, not a view), so that micro-batches fill one array without a copy each.
     */
    default void logitsInto(TokenBatch batch, INDArray out, long firstRow) {
        out.get(NDArrayIndex.interval(firstRow, firstRow + batch.rows()), NDArrayIndex.all()).assign(logits(batch));
    }

    /** Mean cross-entropy over the batch's target tokens, forward only. */
    double loss(TokenBatch batch);

    /** Mean cross-entropy over the batch's target tokens of logits from {@link #logits}. */
    default double lossOf(INDArray logits, TokenBatch batch) {
        double count = batch.checkedTargetCount((int) logits.size(1));
        return LmHeadLoss.ofLogits(logits, batch.targetIds(), batch.lossWeights()) / count;
    }

    /** Loss and the gradients of the chosen parameters for one batch. */
    Gradients lossAndGradients(TokenBatch batch, GradientTarget target);
}
