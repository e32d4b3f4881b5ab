package io.fedlora.agent.train;

import io.fedlora.agent.data.Example;
import io.fedlora.agent.data.JsonlDataset;
import io.fedlora.agent.model.CausalLm;
import io.fedlora.agent.model.DataParallelNetwork;
import io.fedlora.agent.model.LmNetwork;
import io.fedlora.agent.model.StepWorkspace;
import io.fedlora.agent.model.TokenBatch;
import io.fedlora.agent.model.ops.Parallel;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraScaling;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Held-out evaluation of base + adapters: mean cross-entropy over completion tokens, and exact-match accuracy.
 * An example matches when the argmax prediction at every completion position (including the closing EOS) equals
 * the reference token, with the reference prefix fed in (teacher forcing). Because a greedy decoder that has been
 * right so far sees exactly that prefix, this equals "greedy decoding reproduces the completion and then stops",
 * computed in one forward pass instead of token-by-token generation.
 */
public final class Evaluator {

    /** Most logits elements one evaluation batch may produce (128 MiB of fp32). */
    private static final long LOGITS_BUDGET = 32L << 20;

    private final int batchSize;

    public Evaluator() {
        this(32);
    }

    /** @param batchSize examples per forward pass (fewer when the vocabulary is large) */
    public Evaluator(int batchSize) {
        if (batchSize <= 0) {
            throw new IllegalArgumentException("batchSize must be positive");
        }
        this.batchSize = batchSize;
    }

    public EvalResult evaluate(CausalLm base, Map<String, LoraFactors> adapters, LoraScaling scaling, JsonlDataset data) {
        if (data.size() == 0) {
            return new EvalResult(0, Double.NaN, Double.NaN);
        }
        DataType dtype = base.dataType();
        Map<String, LoraFactors> cast = new LinkedHashMap<>();
        adapters.forEach((k, f) -> cast.put(k, new LoraFactors(f.a().castTo(dtype), f.b().castTo(dtype))));
        LmNetwork network = DataParallelNetwork.of(base, cast, scaling == null ? 0.0 : scaling.scale(), Parallel.matchingBlas(), false);
        double lossSum = 0;
        double targets = 0;
        long correct = 0;
        int n = data.size();
        int maxLen = data.examples().stream().mapToInt(e -> e.tokens().length).max().orElse(1);
        // cap the logits of one batch (rows × vocabulary) so a 50k-token vocabulary does not need gigabytes
        int step = (int) Math.max(1, Math.min(batchSize, LOGITS_BUDGET / ((long) maxLen * base.spec().vocabSize())));
        for (int from = 0; from < n; from += step) {
            int[] idx = new int[Math.min(step, n - from)];
            for (int i = 0; i < idx.length; i++) {
                idx[i] = from + i;
            }
            TokenBatch batch = data.batch(idx);
            double count = batch.targetCount();
            int[] argmax;
            try (MemoryWorkspace ws = StepWorkspace.open("fedlora-eval-step")) {
                INDArray logits = network.logits(batch);
                lossSum += network.lossOf(logits, batch) * count;
                argmax = Nd4j.argMax(logits, 1).castTo(DataType.INT).toIntVector();
            }
            targets += count;
            int t = batch.seqLen();
            for (int i = 0; i < idx.length; i++) {
                Example e = data.examples().get(idx[i]);
                boolean match = true;
                for (int p = e.firstTarget(); p < e.tokens().length && match; p++) {
                    match = argmax[i * t + p - 1] == e.tokens()[p];
                }
                if (match) {
                    correct++;
                }
            }
        }
        return new EvalResult(n, lossSum / targets, (double) correct / n);
    }
}
