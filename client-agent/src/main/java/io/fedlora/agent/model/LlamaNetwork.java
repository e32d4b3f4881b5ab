package io.fedlora.agent.model;

import io.fedlora.agent.model.ops.Blas.Region;
import io.fedlora.agent.model.ops.CausalAttention;
import io.fedlora.agent.model.ops.Elementwise;
import io.fedlora.agent.model.ops.Embedding;
import io.fedlora.agent.model.ops.Parallel;
import io.fedlora.agent.model.ops.RmsNorm;
import io.fedlora.agent.model.ops.Rope;
import io.fedlora.agent.model.ops.SwiGlu;
import io.fedlora.agent.model.ops.Tensors;
import io.fedlora.aggregation.family.LlamaFamily;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.WeightLayout;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.HashMap;
import java.util.Map;

/**
 * Forward and hand-written backward pass of a Llama-layout causal LM (Llama, Mistral, Qwen2: RMSNorm, RoPE,
 * grouped-query attention, SwiGLU, {@code nn.Linear} weights with optional q/k/v(/o) biases, tied or untied head) with
 * LoRA adapters on any of the seven projections, composed from the ops of {@link io.fedlora.agent.model.ops} like
 * {@link Gpt2Network}. Each adapted layer computes {@code y = x·Wᵀ + b + s·(x·Aᵀ)·Bᵀ} (W {@code d_out × d_in}, A
 * {@code r × d_in}, B {@code d_out × r}). Activations are {@code [batch·seq, features]}; q and k are rotated in place
 * where their projections wrote them, and attention reads each key/value head for its group of query heads without
 * repeating it.
 *
 * <p>Backward keeps, per block, the residual stream at its input and middle, the rotated q and k, v, the attention
 * output where a gradient needs it, the gate and up projections, the adapters' {@code x·Aᵀ} and per-row statistics;
 * the RMSNorm outputs and the SwiGLU output are recomputed. With gradient checkpointing only each block's input is kept
 * and the block is recomputed during backward. In the LoRA modes only the adapters get gradients; in BASE mode every
 * weight does (for {@code init-model}). The LM head and the loss run fused in row chunks, so the {@code [rows, vocab]}
 * logits never exist in training.
 *
 * <p>The adapter arrays are referenced, not copied: an optimiser updating them in place is seen by the next pass.
 * An instance holds reusable scratch buffers and is not thread-safe.
 */
public final class LlamaNetwork extends DecoderNetwork<LlamaNetwork.BlockCache, double[]> {

    private final LlamaModel model;
    private final LlamaFamily.Spec spec;
    private final Map<Integer, Rope> ropes = new HashMap<>();

    /**
     * @param adapters  LoRA factors by module name ({@code model.layers.0.self_attn.q_proj}); may be empty
     * @param loraScale the adapters' scale s
     */
    public LlamaNetwork(LlamaModel model, Map<String, LoraFactors> adapters, double loraScale) {
        this(model, adapters, loraScale, Parallel.matchingBlas(), false);
    }

    /**
     * @param par           the pool for the Java kernels
     * @param checkpointing keep only each block's input during training and recompute the block in backward
     */
    public LlamaNetwork(LlamaModel model, Map<String, LoraFactors> adapters, double loraScale, Parallel par, boolean checkpointing) {
        super(model, WeightLayout.LINEAR, adapters, loraScale, par, checkpointing);
        this.model = model;
        this.spec = model.spec();
    }

    @Override
    INDArray head() {
        return model.head();
    }

    @Override
    boolean tiedHead() {
        return spec.tiedEmbeddings();
    }

    @Override
    Pass<BlockCache, double[]> newPass() {
        return new Pass<>(new BlockCache[spec.numLayers()]);
    }

    // ---------------------------------------------------------------------------------------------------- forward

    /** What one block's backward needs; {@code y} is null where no gradient needs the attention output. */
    record BlockCache(INDArray xIn, double[] rrms1, INDArray q, INDArray k, INDArray v, INDArray uQ, INDArray uK,
                              INDArray uV, double[] lse, INDArray probs, INDArray y, INDArray uO, INDArray xMid, double[] rrms2,
                              INDArray gate, INDArray up, INDArray uGate, INDArray uUp, INDArray uDown) {
    }

    @Override
    int maxPositions() {
        return spec.maxPositions();
    }

    @Override
    int layers() {
        return spec.numLayers();
    }

    @Override
    void embed(TokenBatch batch, INDArray x) {
        Embedding.forward(model.weight("model.embed_tokens.weight"), null, batch.inputIds(), batch.seqLen(), x);
    }

    @Override
    double[] finalNorm(INDArray x, INDArray y) {
        return RmsNorm.forward(x, model.weight("model.norm.weight"), spec.rmsNormEps(), y, par);
    }

    @Override
    Block<BlockCache> blocks(int b, int t, GradientTarget target) {
        return (i, x, alloc, caches) -> block(i, x, b, t, alloc, caches, target);
    }

    /** One decoder layer on the residual stream {@code x}; returns its output, with {@code caches} non-null its cache in {@code caches[i]}. */
    private INDArray block(int i, INDArray x, int b, int t, Alloc alloc, BlockCache[] caches, GradientTarget target) {
        String p = "model.layers." + i + ".";
        int n = b * t;
        int c = spec.hiddenSize();
        int qd = spec.numHeads() * spec.headDim();
        int kvd = spec.numKeyValueHeads() * spec.headDim();
        int inter = spec.intermediateSize();
        double eps = spec.rmsNormEps();
        INDArray h1 = scratch.get("h", n, c);
        double[] rrms1 = RmsNorm.forward(x, model.weight(p + "input_layernorm.weight"), eps, h1, par);
        INDArray q = alloc.get("q", n, qd);
        INDArray uQ = projections.linear(p + "self_attn.q_proj").forward(h1, q, par);
        INDArray k = alloc.get("k", n, kvd);
        INDArray uK = projections.linear(p + "self_attn.k_proj").forward(h1, k, par);
        INDArray v = alloc.get("v", n, kvd);
        INDArray uV = projections.linear(p + "self_attn.v_proj").forward(h1, v, par);
        Rope rope = rope(t);
        rope.forward(q, spec.numHeads(), par);
        rope.forward(k, spec.numKeyValueHeads(), par);
        boolean keepY = caches != null && projections.needsInput(p + "self_attn.o_proj", target);
        INDArray y = keepY ? alloc.get("y", n, qd) : scratch.get("y", n, qd);
        CausalAttention att = attention(b, t);
        INDArray probs = caches != null && att.keepsProbabilities(dtype) ? alloc.get("attnp", att.probabilityShape()[0], t) : null;
        double[] lse = att.forward(Region.of(q), Region.of(k), Region.of(v), Region.of(y), probs, par);
        INDArray o = scratch.get("proj", n, c);
        INDArray uO = projections.linear(p + "self_attn.o_proj").forward(y, o, par);
        INDArray xMid = alloc.get("xmid", n, c);
        Elementwise.add(x, o, xMid, par);
        INDArray h2 = scratch.get("h", n, c);
        double[] rrms2 = RmsNorm.forward(xMid, model.weight(p + "post_attention_layernorm.weight"), eps, h2, par);
        INDArray gate = alloc.get("gate", n, inter);
        INDArray uGate = projections.linear(p + "mlp.gate_proj").forward(h2, gate, par);
        INDArray up = alloc.get("up", n, inter);
        INDArray uUp = projections.linear(p + "mlp.up_proj").forward(h2, up, par);
        INDArray act = scratch.get("act", n, inter);
        SwiGlu.forward(gate, up, act, par);
        INDArray down = scratch.get("proj", n, c);
        INDArray uDown = projections.linear(p + "mlp.down_proj").forward(act, down, par);
        INDArray xOut = alloc.get("xout", n, c);
        Elementwise.add(xMid, down, xOut, par);
        if (caches != null) {
            caches[i] = new BlockCache(x, rrms1, q, k, v, uQ, uK, uV, lse, probs, keepY ? y : null, uO, xMid, rrms2, gate, up, uGate, uUp,
                    uDown);
        }
        return xOut;
    }

    private CausalAttention attention(int b, int t) {
        return new CausalAttention(b, t, spec.numHeads(), spec.numKeyValueHeads(), spec.headDim());
    }

    /** The rotary tables for sequences of {@code t} (plain Java arrays, kept per length). */
    private Rope rope(int t) {
        return ropes.computeIfAbsent(t, len -> new Rope(len, spec.headDim(), spec.ropeTheta()));
    }

    // --------------------------------------------------------------------------------------------------- backward

    @Override
    void backward(Pass<BlockCache, double[]> f, INDArray dhF, TokenBatch batch, GradientTarget target,
                  Map<String, INDArray> grads, INDArray dEmb) {
        boolean base = target == GradientTarget.BASE;
        int b = batch.batchSize();
        int t = batch.seqLen();
        int n = b * t;
        int c = spec.hiddenSize();
        int qd = spec.numHeads() * spec.headDim();
        int kvd = spec.numKeyValueHeads() * spec.headDim();
        int inter = spec.intermediateSize();
        double eps = spec.rmsNormEps();
        Rope rope = rope(t);
        INDArray dx = scratch.get("dx", n, c);
        RmsNorm.backward(dhF, f.finalInput, model.weight("model.norm.weight"), f.finalStats, dx, false, normGrad(base, "model.norm", grads), par);
        int lowest = lowestAdaptedLayer(spec::layerOf);
        Block<BlockCache> blocks = blocks(b, t, target);
        for (int i = spec.numLayers() - 1; i >= 0; i--) {
            if (!base && i < lowest) {
                break;
            }
            String p = "model.layers." + i + ".";
            BlockCache bc = cacheOf(i, f, blocks);
            // x_out = x_mid + down(silu(gate(h2)) ⊙ up(h2)), h2 = rms_2(x_mid); dx is d x_out, then d x_mid, then d x_in
            String down = p + "mlp.down_proj";
            INDArray act = null;
            if (projections.needsInput(down, target)) {
                act = scratch.get("act", n, inter);
                SwiGlu.forward(bc.gate(), bc.up(), act, par);
            }
            INDArray dGate = scratch.get("dgate", n, inter);
            projections.linear(down).backward(dx, act, bc.uDown(), dGate, false, projections.grads(down, target, grads), par);
            INDArray dUp = scratch.get("dup", n, inter);
            SwiGlu.backward(dGate, bc.gate(), bc.up(), dGate, dUp, par);
            String gate = p + "mlp.gate_proj";
            String up = p + "mlp.up_proj";
            INDArray h2 = null;
            if (projections.needsInput(gate, target) || projections.needsInput(up, target)) {
                h2 = scratch.get("h", n, c);
                RmsNorm.forward(bc.xMid(), model.weight(p + "post_attention_layernorm.weight"), eps, h2, par);
            }
            INDArray dH = scratch.get("dh", n, c);
            projections.linear(gate).backward(dGate, h2, bc.uGate(), dH, false, projections.grads(gate, target, grads), par);
            projections.linear(up).backward(dUp, h2, bc.uUp(), dH, true, projections.grads(up, target, grads), par);
            RmsNorm.backward(dH, bc.xMid(), model.weight(p + "post_attention_layernorm.weight"), bc.rrms2(), dx, true,
                    normGrad(base, p + "post_attention_layernorm", grads), par);
            // x_mid = x_in + o(attention(rope(q(h1)), rope(k(h1)), v(h1))), h1 = rms_1(x_in)
            String o = p + "self_attn.o_proj";
            INDArray dY = scratch.get("dy", n, qd);
            projections.linear(o).backward(dx, bc.y(), bc.uO(), dY, false, projections.grads(o, target, grads), par);
            INDArray dQ = scratch.get("dq", n, qd);
            INDArray dK = scratch.zeros("dk", n, kvd);
            INDArray dV = scratch.zeros("dv", n, kvd);
            attention(b, t).backward(Region.of(dY), Region.of(bc.q()), Region.of(bc.k()), Region.of(bc.v()), bc.lse(), bc.probs(),
                    Region.of(dQ), Region.of(dK), Region.of(dV), par);
            rope.backward(dQ, spec.numHeads(), par);
            rope.backward(dK, spec.numKeyValueHeads(), par);
            String qp = p + "self_attn.q_proj";
            String kp = p + "self_attn.k_proj";
            String vp = p + "self_attn.v_proj";
            INDArray h1 = null;
            if (projections.needsInput(qp, target) || projections.needsInput(kp, target) || projections.needsInput(vp, target)) {
                h1 = scratch.get("h", n, c);
                RmsNorm.forward(bc.xIn(), model.weight(p + "input_layernorm.weight"), eps, h1, par);
            }
            // below the lowest adapted layer nothing needs a gradient unless the base weights are trained
            boolean needDx = base || i > lowest;
            INDArray dIn = needDx ? dH : null;
            projections.linear(qp).backward(dQ, h1, bc.uQ(), dIn, false, projections.grads(qp, target, grads), par);
            projections.linear(kp).backward(dK, h1, bc.uK(), dIn, true, projections.grads(kp, target, grads), par);
            projections.linear(vp).backward(dV, h1, bc.uV(), dIn, true, projections.grads(vp, target, grads), par);
            if (!needDx) {
                break;
            }
            RmsNorm.backward(dH, bc.xIn(), model.weight(p + "input_layernorm.weight"), bc.rrms1(), dx, true,
                    normGrad(base, p + "input_layernorm", grads), par);
        }
        if (base) {
            Embedding.backward(dx, batch.inputIds(), t, dEmb, null);
            grads.put("model.embed_tokens.weight", dEmb);
        }
    }

    /** The norm's gain gradient, registered under {@code prefix.weight}, in BASE mode; null otherwise. */
    private INDArray normGrad(boolean base, String prefix, Map<String, INDArray> grads) {
        if (!base) {
            return null;
        }
        INDArray g = Tensors.empty(dtype, 1, spec.hiddenSize()).reshape(spec.hiddenSize());
        grads.put(prefix + ".weight", g);
        return g;
    }
}
