package io.fedlora.agent.model;

import io.fedlora.agent.model.ops.Dense;
import io.fedlora.agent.model.ops.Parallel;
import io.fedlora.agent.model.ops.Tensors;
import io.fedlora.aggregation.lora.LoraFactors;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.IntConsumer;

/**
 * Data parallelism over the batch on a pool of N threads: a batch of at least N sequences is split into N contiguous
 * micro-batches, and each is run whole (forward and backward) single-threaded on its own thread by its own replica of
 * the network (its own scratch, its own ND4J step workspace, a one-thread kernel pool), every replica reading the same
 * frozen weights and adapters. The losses and gradients are then combined in part order, each weighted by its share
 * of the batch's target tokens (the network's mean is over target tokens), which is the full batch's mean loss and
 * gradient up to rounding, with the same bits on every run for a fixed thread count. Clipping and the optimiser see
 * only the combined gradient.
 *
 * <p>Why: the network on its own splits every op of a pass over the pool, which costs a hand-over per op; on small ops
 * that costs more than the second core saves, and even a large model's forward barely scaled. A micro-batch per thread
 * hands over once per pass. A batch with fewer sequences than threads (one long sequence) falls back to that
 * intra-op split. Memory: each replica's scratch and kept activations are sized by its micro-batch, so together they
 * hold about what one full-batch pass holds; what is added is one copy of the gradients per replica
 * ({@link HeldGradients}).
 *
 * <p>Like the networks it wraps, an instance runs one pass at a time; the adapters must not change during a pass.
 */
public final class DataParallelNetwork implements LmNetwork {

    private static final String WORKSPACE = "fedlora-data-parallel-";

    private final Parallel par;
    private final LmNetwork whole;
    private final LmNetwork[] replicas;
    private final HeldGradients[] held;
    private final DataType dtype;
    private final int vocab;

    private DataParallelNetwork(CausalLm model, Map<String, LoraFactors> adapters, double loraScale, Parallel par,
                                boolean checkpointing, LmNetwork whole) {
        this.par = par;
        this.whole = whole;
        this.dtype = model.dataType();
        this.vocab = model.spec().vocabSize();
        this.replicas = new LmNetwork[par.threads()];
        this.held = new HeldGradients[par.threads()];
        for (int p = 0; p < replicas.length; p++) {
            replicas[p] = model.network(adapters, loraScale, Parallel.of(1), checkpointing);
            held[p] = new HeldGradients();
        }
    }

    /**
     * The network for {@code model} with these adapters (referenced, not copied) on {@code par}: data-parallel over
     * the batch when the pool has more than one thread, else the plain network.
     *
     * @param checkpointing keep only each block's input during training and recompute the block in backward
     */
    public static LmNetwork of(CausalLm model, Map<String, LoraFactors> adapters, double loraScale, Parallel par,
                               boolean checkpointing) {
        LmNetwork whole = model.network(adapters, loraScale, par, checkpointing);
        return par.threads() < 2 ? whole : new DataParallelNetwork(model, adapters, loraScale, par, checkpointing, whole);
    }

    /** Micro-batches run on the pool's threads: one each when the batch has a sequence for every thread, else none. */
    int parts(TokenBatch batch) {
        return batch.batchSize() >= replicas.length ? replicas.length : 0;
    }

    @Override
    public INDArray logits(TokenBatch batch) {
        if (parts(batch) == 0) {
            return whole.logits(batch);
        }
        INDArray out = Tensors.empty(dtype, batch.rows(), vocab);
        logitsInto(batch, out, 0);
        return out;
    }

    @Override
    public void logitsInto(TokenBatch batch, INDArray out, long firstRow) {
        int parts = parts(batch);
        if (parts == 0) {
            whole.logitsInto(batch, out, firstRow);
            return;
        }
        TokenBatch[] micro = split(batch, parts);
        long[] rows = new long[parts];
        for (int p = 1; p < parts; p++) {
            rows[p] = rows[p - 1] + micro[p - 1].rows();
        }
        run(parts, p -> replicas[p].logitsInto(micro[p], out, firstRow + rows[p]));
    }

    @Override
    public double loss(TokenBatch batch) {
        int parts = parts(batch);
        if (parts == 0) {
            return whole.loss(batch);
        }
        double count = batch.checkedTargetCount(vocab);
        TokenBatch[] micro = split(batch, parts);
        double[] sums = new double[parts];
        run(parts, p -> {
            double c = micro[p].targetCount();
            // a micro-batch without targets adds nothing (and the network refuses a batch without targets)
            sums[p] = c > 0 ? replicas[p].loss(micro[p]) * c : 0;
        });
        double sum = 0;
        for (double s : sums) {
            sum += s;
        }
        return sum / count;
    }

    @Override
    public Gradients lossAndGradients(TokenBatch batch, GradientTarget target) {
        int parts = parts(batch);
        if (parts == 0) {
            return whole.lossAndGradients(batch, target);
        }
        double count = batch.checkedTargetCount(vocab);
        TokenBatch[] micro = split(batch, parts);
        double[] counts = new double[parts];
        double[] losses = new double[parts];
        @SuppressWarnings("unchecked")
        Map<String, INDArray>[] grads = new Map[parts];
        run(parts, p -> {
            counts[p] = micro[p].targetCount();
            if (counts[p] > 0) {
                Gradients g = replicas[p].lossAndGradients(micro[p], target);
                losses[p] = g.loss();
                grads[p] = held[p].hold(g.grads());
            }
        });
        return combine(count, counts, losses, grads);
    }

    /**
     * The full batch's mean loss and gradients: {@code Σ_p (count_p / count) · g_p} over the parts in order, summed in
     * double and rounded once, into arrays of the caller's current workspace.
     */
    private Gradients combine(double count, double[] counts, double[] losses, Map<String, INDArray>[] grads) {
        double loss = 0;
        Map<String, INDArray> keys = null;
        for (int p = 0; p < grads.length; p++) {
            if (grads[p] != null) {
                loss += losses[p] * counts[p];
                keys = keys == null ? grads[p] : keys;
            }
        }
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (Map.Entry<String, INDArray> e : keys.entrySet()) {
            Dense[] in = new Dense[grads.length];
            double[] w = new double[grads.length];
            int used = 0;
            for (int p = 0; p < grads.length; p++) {
                if (grads[p] != null) {
                    in[used] = Dense.of(grads[p].get(e.getKey()));
                    w[used++] = counts[p] / count;
                }
            }
            INDArray sum = Nd4j.createUninitialized(dtype, e.getValue().shape(), 'c');
            Dense s = Dense.of(sum);
            for (int i = 0, n = s.length(); i < n; i++) {
                double v = 0;
                for (int p = 0; p < used; p++) {
                    v += w[p] * in[p].get(i);
                }
                s.set(i, v);
            }
            out.put(e.getKey(), sum);
        }
        return new Gradients(loss / count, count, out);
    }

    /** The batch's sequences in {@code parts} contiguous runs, the earlier ones shorter by at most one sequence. */
    static TokenBatch[] split(TokenBatch batch, int parts) {
        TokenBatch[] micro = new TokenBatch[parts];
        int b = batch.batchSize();
        for (int p = 0; p < parts; p++) {
            micro[p] = batch.sequences(b * p / parts, b * (p + 1) / parts);
        }
        return micro;
    }

    /**
     * Runs {@code part} for each part on a thread of its own (the caller runs part 0), with OpenBLAS single-threaded,
     * each inside its thread's step workspace for that part.
     */
    private void run(int parts, IntConsumer part) {
        par.exclusiveRun(() -> par.forRanges(parts, 1, (thread, from, to) -> {
            for (int p = from; p < to; p++) {
                try (MemoryWorkspace ws = StepWorkspace.open(WORKSPACE + p)) {
                    part.accept(p);
                }
            }
        }));
    }
}
