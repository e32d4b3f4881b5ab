package io.fedlora.agent.model;

import io.fedlora.agent.model.ops.LmHeadLoss;
import java.util.Arrays;
import java.util.List;

/**
 * A right-padded batch of next-token prediction rows: {@code inputIds[b*seqLen + t]} predicts
 * {@code targetIds[b*seqLen + t]} with weight {@code lossWeights[...]} (1 for a counted target, 0 for prompt tokens
 * and padding). With right padding the causal mask alone keeps real positions from seeing padding.
 */
public record TokenBatch(int batchSize, int seqLen, int[] inputIds, int[] targetIds, float[] lossWeights) {

    public TokenBatch {
        int n = batchSize * seqLen;
        if (batchSize <= 0 || seqLen <= 0 || inputIds.length != n || targetIds.length != n || lossWeights.length != n) {
            throw new IllegalArgumentException("inconsistent batch: " + batchSize + " x " + seqLen);
        }
    }

    /** Number of positions (rows of the flattened activations). */
    public int rows() {
        return batchSize * seqLen;
    }

    /**
     * The sequences {@code [from, to)} as a batch of their own (same sequence length, copied arrays): a data-parallel
     * pass's micro-batch.
     */
    public TokenBatch sequences(int from, int to) {
        if (from < 0 || to > batchSize || from >= to) {
            throw new IllegalArgumentException("sequences [" + from + ", " + to + ") of a batch of " + batchSize);
        }
        int lo = from * seqLen;
        int hi = to * seqLen;
        return new TokenBatch(to - from, seqLen, Arrays.copyOfRange(inputIds, lo, hi), Arrays.copyOfRange(targetIds, lo, hi),
                Arrays.copyOfRange(lossWeights, lo, hi));
    }

    /** Sum of the loss weights: the number of target tokens. */
    public double targetCount() {
        double s = 0;
        for (float w : lossWeights) {
            s += w;
        }
        return s;
    }

    /** {@link #targetCount}, after checking that there is a target and every counted target id is in the vocabulary. */
    public double checkedTargetCount(int vocab) {
        double count = targetCount();
        if (count <= 0) {
            throw new IllegalArgumentException("batch has no target tokens");
        }
        LmHeadLoss.checkTargets(targetIds, lossWeights, vocab);
        return count;
    }

    /**
     * Builds a batch from token sequences; position {@code t} of a sequence is a target when
     * {@code t >= firstTarget} (the first token is never a target: nothing precedes it).
     *
     * @param sequences    token ids of each example (at least 2 tokens)
     * @param firstTargets index of the first token whose prediction counts, per example
     */
    public static TokenBatch of(List<int[]> sequences, List<Integer> firstTargets) {
        if (sequences.isEmpty() || sequences.size() != firstTargets.size()) {
            throw new IllegalArgumentException("a batch needs one firstTarget per sequence and at least one sequence");
        }
        int maxLen = 0;
        for (int[] s : sequences) {
            if (s.length < 2) {
                throw new IllegalArgumentException("a sequence needs at least 2 tokens to predict one");
            }
            maxLen = Math.max(maxLen, s.length);
        }
        int b = sequences.size();
        int t = maxLen - 1;
        int[] in = new int[b * t];
        int[] tg = new int[b * t];
        float[] w = new float[b * t];
        for (int i = 0; i < b; i++) {
            int[] s = sequences.get(i);
            int first = Math.max(1, firstTargets.get(i));
            for (int p = 0; p < s.length - 1; p++) {
                in[i * t + p] = s[p];
                tg[i * t + p] = s[p + 1];
                w[i * t + p] = (p + 1 >= first) ? 1f : 0f;
            }
        }
        return new TokenBatch(b, t, in, tg, w);
    }
}
