package io.fedlora.agent.model;

import io.fedlora.agent.model.ops.Blas;
import io.fedlora.agent.model.ops.Blas.Region;
import io.fedlora.agent.model.ops.LmHeadLoss;
import io.fedlora.agent.model.ops.Parallel;
import io.fedlora.agent.model.ops.Scratch;
import io.fedlora.agent.model.ops.Tensors;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.WeightLayout;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.ToIntFunction;

/**
 * What a decoder-only network does the same whatever its family: the fused LM head and loss around the family's
 * blocks, the memory plan of a pass (what a block keeps for backward, what lives in reusable scratch, what gradient
 * checkpointing keeps), and the adapters' {@link Projections}. A family supplies its blocks' forward, up to the final
 * norm, and their backward from that norm's output gradient.
 *
 * @param <B> what one block keeps for its backward
 * @param <S> the final norm's per-row statistics
 */
abstract class DecoderNetwork<B, S> implements LmNetwork {

    /** Where a block's activations are allocated: the step's memory (kept) or the reusable scratch. */
    @FunctionalInterface
    interface Alloc {
        INDArray get(String role, long rows, long cols);
    }

    /** One block's forward: returns its output; with {@code caches} non-null stores its cache in {@code caches[layer]}. */
    @FunctionalInterface
    interface Block<B> {
        INDArray run(int layer, INDArray x, Alloc alloc, B[] caches);
    }

    /**
     * What a training pass keeps: every block's cache, or with checkpointing only every block's input; and the final
     * norm's input and statistics.
     */
    static final class Pass<B, S> {
        final B[] blocks;
        final INDArray[] inputs;
        INDArray finalInput;
        S finalStats;

        Pass(B[] blocks) {
            this.blocks = blocks;
            this.inputs = new INDArray[blocks.length];
        }
    }

    final DataType dtype;
    final Projections projections;
    final Parallel par;
    final boolean checkpointing;
    final Scratch scratch;

    /**
     * @param layout        the layout of the family's projection weights
     * @param adapters      LoRA factors by module name; may be empty
     * @param loraScale     the adapters' scale s
     * @param par           the pool for the Java kernels
     * @param checkpointing keep only each block's input during training and recompute the block in backward
     */
    DecoderNetwork(CausalLm model, WeightLayout layout, Map<String, LoraFactors> adapters, double loraScale, Parallel par,
                   boolean checkpointing) {
        this.dtype = model.dataType();
        this.par = par;
        this.checkpointing = checkpointing;
        this.projections = new Projections(model.weights(), layout, adapters, loraScale, dtype);
        this.scratch = new Scratch(dtype);
    }

    /** The LM head {@code [vocab, hidden]}: the token embedding when tied. */
    abstract INDArray head();

    abstract boolean tiedHead();

    /** An empty record of what a training pass keeps (an array with one slot per block). */
    abstract Pass<B, S> newPass();

    /** The most positions a sequence may have. */
    abstract int maxPositions();

    abstract int layers();

    /** Writes the batch's token embeddings (plus learned positions, where the family has them) into {@code x}. */
    abstract void embed(TokenBatch batch, INDArray x);

    /** The family's blocks over a batch of {@code b} sequences of {@code t} tokens. */
    abstract Block<B> blocks(int b, int t, GradientTarget target);

    /** The final norm of the residual stream {@code x} into {@code y}; returns its statistics for backward. */
    abstract S finalNorm(INDArray x, INDArray y);

    /**
     * Backward from {@code dh}, the loss's gradient at the final norm's output, registering the gradients
     * {@code target} asks for in {@code grads}. In BASE mode {@code dEmbedding} receives the token embedding's
     * gradient (it already holds the tied head's share).
     */
    abstract void backward(Pass<B, S> pass, INDArray dh, TokenBatch batch, GradientTarget target, Map<String, INDArray> grads,
                           INDArray dEmbedding);

    /** Next-token logits {@code [batch·seq, vocab]} (row {@code b·seq + t} predicts the token after position t). */
    @Override
    public final INDArray logits(TokenBatch batch) {
        INDArray logits = Tensors.empty(dtype, batch.rows(), head().size(0));
        logitsInto(batch, logits, 0);
        return logits;
    }

    @Override
    public final void logitsInto(TokenBatch batch, INDArray out, long firstRow) {
        par.exclusiveRun(() -> {
            INDArray hF = forward(batch, null, null);
            INDArray head = head();
            Blas.gemm(par, false, true, batch.rows(), (int) head.size(0), (int) head.size(1), 1.0, Region.of(hF), Region.of(head),
                    0.0, Region.of(out).at(firstRow, 0));
        });
    }

    /** Mean cross-entropy over the batch's target tokens, forward only (the logits are never materialised whole). */
    @Override
    public final double loss(TokenBatch batch) {
        INDArray head = head();
        double count = batch.checkedTargetCount((int) head.size(0));
        return par.exclusive(() -> {
            INDArray hF = forward(batch, null, null);
            return LmHeadLoss.forward(hF, head, batch.targetIds(), batch.lossWeights(), count, null, null, par) / count;
        });
    }

    /** Loss and the gradients of the chosen parameters for one batch. */
    @Override
    public final Gradients lossAndGradients(TokenBatch batch, GradientTarget target) {
        return par.exclusive(() -> passWithGradients(batch, target));
    }

    private Gradients passWithGradients(TokenBatch batch, GradientTarget target) {
        INDArray head = head();
        long vocab = head.size(0);
        long c = head.size(1);
        double count = batch.checkedTargetCount((int) vocab);
        Pass<B, S> pass = newPass();
        INDArray hF = forward(batch, pass, target);
        boolean base = target == GradientTarget.BASE;
        Map<String, INDArray> grads = new LinkedHashMap<>();
        INDArray dEmbedding = base ? Nd4j.zeros(dtype, vocab, c) : null;
        // an untied head (lm_head.weight) has its own gradient; a tied one accumulates into the embedding's
        INDArray dHead = base && !tiedHead() ? Nd4j.zeros(dtype, vocab, c) : dEmbedding;
        INDArray dh = scratch.get("dhF", batch.rows(), c);
        double loss = LmHeadLoss.forward(hF, head, batch.targetIds(), batch.lossWeights(), count, dh, dHead, par) / count;
        if (dHead != dEmbedding) {
            grads.put("lm_head.weight", dHead);
        }
        backward(pass, dh, batch, target, grads, dEmbedding);
        return new Gradients(loss, count, grads);
    }

    /**
     * Embeds the batch and runs the blocks and the final norm; returns the norm's output (a scratch buffer). With
     * {@code keep} non-null, records in it what a backward pass for {@code target} needs. In inference the
     * embedding goes to the scratch buffer of odd layers' outputs, which layer 0 does not write.
     */
    final INDArray forward(TokenBatch batch, Pass<B, S> keep, GradientTarget target) {
        int t = batch.seqLen();
        if (t > maxPositions()) {
            throw new IllegalArgumentException("sequence length " + t + " exceeds the model's " + maxPositions() + " positions");
        }
        int n = batch.rows();
        long c = head().size(1);
        INDArray x = keep != null ? Tensors.empty(dtype, n, c) : scratch.get("xout1", n, c);
        embed(batch, x);
        x = runBlocks(layers(), x, keep, blocks(batch.batchSize(), t, target));
        INDArray hF = scratch.get("hF", n, c);
        S stats = finalNorm(x, hF);
        if (keep != null) {
            keep.finalStats = stats;
            keep.finalInput = x;
        }
        return hF;
    }

    /**
     * Runs {@code layers} blocks in order on the residual stream {@code x}; returns the last one's output. Inference
     * ({@code keep} null): everything in scratch, each block's output ({@code "xout"}) alternating between two
     * buffers by layer parity so that a block never writes its own input. Training with checkpointing: each block's
     * input kept, and only its output (the next input) in the step's memory. Training: every block's cache, all in
     * the step's memory.
     */
    private INDArray runBlocks(int layers, INDArray x, Pass<B, S> keep, Block<B> block) {
        Alloc kept = (role, r, c) -> Tensors.empty(dtype, r, c);
        for (int i = 0; i < layers; i++) {
            if (keep == null) {
                String parity = Integer.toString(i % 2);
                x = block.run(i, x, (role, r, c) -> scratch.get(role.equals("xout") ? role + parity : role, r, c), null);
            } else if (checkpointing) {
                keep.inputs[i] = x;
                x = block.run(i, x, (role, r, c) -> role.equals("xout") ? kept.get(role, r, c) : scratch.get(role, r, c), null);
            } else {
                x = block.run(i, x, kept, keep.blocks);
            }
        }
        return x;
    }

    /**
     * Block {@code layer}'s cache for backward: as kept, or with checkpointing rebuilt from the kept input into
     * scratch roles of its own (apart from backward's temporaries).
     */
    final B cacheOf(int layer, Pass<B, S> pass, Block<B> block) {
        if (pass.blocks[layer] != null) {
            return pass.blocks[layer];
        }
        B[] rebuilt = pass.blocks.clone();
        block.run(layer, pass.inputs[layer], (role, r, c) -> scratch.get("ckpt-" + role, r, c), rebuilt);
        return rebuilt[layer];
    }

    /** The lowest layer with an adapter ({@link Integer#MAX_VALUE} without one): LoRA backward stops there. */
    final int lowestAdaptedLayer(ToIntFunction<String> layerOf) {
        int lowest = Integer.MAX_VALUE;
        for (String module : projections.adapted()) {
            lowest = Math.min(lowest, layerOf.applyAsInt(module));
        }
        return lowest;
    }
}
