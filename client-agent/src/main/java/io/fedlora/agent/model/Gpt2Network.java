package io.fedlora.agent.model;

import io.fedlora.agent.model.ops.Blas.Region;
import io.fedlora.agent.model.ops.CausalAttention;
import io.fedlora.agent.model.ops.Elementwise;
import io.fedlora.agent.model.ops.Embedding;
import io.fedlora.agent.model.ops.GeluNew;
import io.fedlora.agent.model.ops.LayerNorm;
import io.fedlora.agent.model.ops.Parallel;
import io.fedlora.agent.model.ops.Tensors;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.WeightLayout;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Map;

/**
 * Forward and hand-written backward pass of a GPT-2 layout causal LM with LoRA adapters, composed from the ops of
 * {@link io.fedlora.agent.model.ops} (OpenBLAS GEMMs on the arrays' memory plus Java kernels; no ND4J op dispatch,
 * whose per-op overhead dominated small models).
 *
 * <p>Each adapted Conv1D layer computes {@code y = x·W + b + s·(x·Aᵀ)·Bᵀ}. Activations are {@code [batch·seq,
 * features]}. Backward keeps, per block, only the residual stream at its input and middle, the fused qkv, the MLP
 * pre-activation, the attention output where a gradient needs it, the adapters' {@code x·Aᵀ}, per-row statistics and,
 * at short contexts, the attention probabilities; layer-norm outputs, the GELU output and (at long contexts) the
 * attention probabilities are recomputed. With gradient checkpointing only
 * each block's input is kept and the block is recomputed during backward. In the LoRA modes only the adapters get
 * gradients: frozen weights pass activation gradients through but never get one of their own. The LM head and the
 * loss run fused in row chunks, so the {@code [rows, vocab]} logits never exist in training.
 *
 * <p>The adapter arrays are referenced, not copied: an optimiser updating them in place is seen by the next pass.
 * An instance holds reusable scratch buffers and is not thread-safe.
 */
public final class Gpt2Network extends DecoderNetwork<Gpt2Network.BlockCache, LayerNorm.Stats> {

    private final Gpt2Model model;
    private final Gpt2Config config;

    /**
     * @param adapters  LoRA factors by module name ({@code h.0.attn.c_attn}); may be empty
     * @param loraScale the adapters' scale s (alpha/r, or alpha/sqrt(r) for rsLoRA)
     */
    public Gpt2Network(Gpt2Model model, Map<String, LoraFactors> adapters, double loraScale) {
        this(model, adapters, loraScale, Parallel.matchingBlas(), false);
    }

    /**
     * @param par           the pool for the Java kernels
     * @param checkpointing keep only each block's input during training and recompute the block in backward
     */
    public Gpt2Network(Gpt2Model model, Map<String, LoraFactors> adapters, double loraScale, Parallel par, boolean checkpointing) {
        super(model, WeightLayout.CONV1D, adapters, loraScale, par, checkpointing);
        this.model = model;
        this.config = model.config();
    }

    public Gpt2Config config() {
        return config;
    }

    @Override
    INDArray head() {
        return model.head();
    }

    @Override
    boolean tiedHead() {
        return config.tiedEmbeddings();
    }

    @Override
    Pass<BlockCache, LayerNorm.Stats> newPass() {
        return new Pass<>(new BlockCache[config.nLayer()]);
    }

    // ---------------------------------------------------------------------------------------------------- forward

    /** What one block's backward needs. */
    static final class BlockCache {
        INDArray xIn;
        LayerNorm.Stats ln1;
        INDArray qkv;
        INDArray uAttn;
        double[] lse;
        /** The attention probabilities, where {@link CausalAttention#keepsProbabilities} (else null: recomputed). */
        INDArray probs;
        INDArray attnY;
        INDArray uProj;
        INDArray xMid;
        LayerNorm.Stats ln2;
        INDArray fcPre;
        INDArray uFc;
        INDArray uMProj;
    }

    @Override
    int maxPositions() {
        return config.nPositions();
    }

    @Override
    int layers() {
        return config.nLayer();
    }

    @Override
    void embed(TokenBatch batch, INDArray x) {
        Embedding.forward(model.weight("wte.weight"), model.weight("wpe.weight"), batch.inputIds(), batch.seqLen(), x);
    }

    @Override
    LayerNorm.Stats finalNorm(INDArray x, INDArray y) {
        return LayerNorm.forward(x, model.weight("ln_f.weight"), model.weight("ln_f.bias"), config.layerNormEpsilon(), y, par);
    }

    @Override
    Block<BlockCache> blocks(int b, int t, GradientTarget target) {
        return (i, x, alloc, caches) -> block(i, x, b, t, alloc, caches, target);
    }

    /** One transformer block on the residual stream {@code x}; returns its output, with {@code caches} non-null its cache in {@code caches[i]}. */
    private INDArray block(int i, INDArray x, int b, int t, Alloc alloc, BlockCache[] caches, GradientTarget target) {
        String p = "h." + i + ".";
        int n = b * t;
        int c = config.nEmbd();
        double eps = config.layerNormEpsilon();
        INDArray h1 = scratch.get("h", n, c);
        LayerNorm.Stats ln1 = LayerNorm.forward(x, model.weight(p + "ln_1.weight"), model.weight(p + "ln_1.bias"), eps, h1, par);
        INDArray qkv = alloc.get("qkv", n, 3L * c);
        INDArray uAttn = projections.linear(p + "attn.c_attn").forward(h1, qkv, par);
        boolean keepY = caches != null && projections.needsInput(p + "attn.c_proj", target);
        INDArray y = keepY ? alloc.get("y", n, c) : scratch.get("y", n, c);
        CausalAttention att = attention(b, t);
        INDArray probs = caches != null && att.keepsProbabilities(dtype) ? alloc.get("attnp", att.probabilityShape()[0], t) : null;
        double[] lse = att.forward(qkvRegion(qkv, 0), qkvRegion(qkv, c), qkvRegion(qkv, 2L * c), Region.of(y), probs, par);
        INDArray proj = scratch.get("proj", n, c);
        INDArray uProj = projections.linear(p + "attn.c_proj").forward(y, proj, par);
        INDArray xMid = alloc.get("xmid", n, c);
        Elementwise.add(x, proj, xMid, par);
        INDArray h2 = scratch.get("h", n, c);
        LayerNorm.Stats ln2 = LayerNorm.forward(xMid, model.weight(p + "ln_2.weight"), model.weight(p + "ln_2.bias"), eps, h2, par);
        INDArray fcPre = alloc.get("fcpre", n, 4L * c);
        INDArray uFc = projections.linear(p + "mlp.c_fc").forward(h2, fcPre, par);
        INDArray act = scratch.get("act", n, 4L * c);
        GeluNew.forward(fcPre, act, par);
        INDArray mp = scratch.get("proj", n, c);
        INDArray uMProj = projections.linear(p + "mlp.c_proj").forward(act, mp, par);
        INDArray xOut = alloc.get("xout", n, c);
        Elementwise.add(xMid, mp, xOut, par);
        if (caches != null) {
            BlockCache bc = new BlockCache();
            caches[i] = bc;
            bc.xIn = x;
            bc.ln1 = ln1;
            bc.qkv = qkv;
            bc.uAttn = uAttn;
            bc.lse = lse;
            bc.probs = probs;
            bc.attnY = keepY ? y : null;
            bc.uProj = uProj;
            bc.xMid = xMid;
            bc.ln2 = ln2;
            bc.fcPre = fcPre;
            bc.uFc = uFc;
            bc.uMProj = uMProj;
        }
        return xOut;
    }

    private CausalAttention attention(int b, int t) {
        return new CausalAttention(b, t, config.nHead(), config.nHead(), config.headDim());
    }

    private static Region qkvRegion(INDArray qkv, long col) {
        return new Region(qkv, col, (int) qkv.size(1));
    }

    // --------------------------------------------------------------------------------------------------- backward

    @Override
    void backward(Pass<BlockCache, LayerNorm.Stats> f, INDArray dhF, TokenBatch batch, GradientTarget target,
                  Map<String, INDArray> grads, INDArray dWte) {
        boolean base = target == GradientTarget.BASE;
        int b = batch.batchSize();
        int t = batch.seqLen();
        int n = b * t;
        int c = config.nEmbd();
        double eps = config.layerNormEpsilon();
        INDArray dx = scratch.get("dx", n, c);
        INDArray[] lnG = lnGrads(base, "ln_f", grads);
        LayerNorm.backward(dhF, f.finalInput, model.weight("ln_f.weight"), f.finalStats, dx, false, lnG[0], lnG[1], par);
        int lowest = lowestAdaptedLayer(module -> Integer.parseInt(module.substring(2, module.indexOf('.', 2))));
        Block<BlockCache> blocks = blocks(b, t, target);
        for (int i = config.nLayer() - 1; i >= 0; i--) {
            if (!base && i < lowest) {
                break;
            }
            String p = "h." + i + ".";
            BlockCache bc = cacheOf(i, f, blocks);
            // x_out = x_mid + mlp(ln_2(x_mid)); dx is d x_out and becomes d x_mid, then d x_in, in place
            INDArray act = null;
            if (projections.needsInput(p + "mlp.c_proj", target)) {
                act = scratch.get("act", n, 4L * c);
                GeluNew.forward(bc.fcPre, act, par);
            }
            INDArray dAct = scratch.get("dact", n, 4L * c);
            projections.linear(p + "mlp.c_proj").backward(dx, act, bc.uMProj, dAct, false, projections.grads(p + "mlp.c_proj", target, grads), par);
            GeluNew.backward(dAct, bc.fcPre, dAct, par);
            INDArray h2 = null;
            if (projections.needsInput(p + "mlp.c_fc", target)) {
                h2 = scratch.get("h", n, c);
                LayerNorm.forward(bc.xMid, model.weight(p + "ln_2.weight"), model.weight(p + "ln_2.bias"), eps, h2, par);
            }
            INDArray dH = scratch.get("dh", n, c);
            projections.linear(p + "mlp.c_fc").backward(dAct, h2, bc.uFc, dH, false, projections.grads(p + "mlp.c_fc", target, grads), par);
            lnG = lnGrads(base, p + "ln_2", grads);
            LayerNorm.backward(dH, bc.xMid, model.weight(p + "ln_2.weight"), bc.ln2, dx, true, lnG[0], lnG[1], par);
            // x_mid = x_in + attn(ln_1(x_in))
            INDArray dY = scratch.get("dy", n, c);
            projections.linear(p + "attn.c_proj").backward(dx, bc.attnY, bc.uProj, dY, false, projections.grads(p + "attn.c_proj", target, grads), par);
            INDArray dQkv = scratch.zeros("dqkv", n, 3L * c);
            attention(b, t).backward(Region.of(dY), qkvRegion(bc.qkv, 0), qkvRegion(bc.qkv, c), qkvRegion(bc.qkv, 2L * c), bc.lse,
                    bc.probs, qkvRegion(dQkv, 0), qkvRegion(dQkv, c), qkvRegion(dQkv, 2L * c), par);
            // below the lowest adapted layer nothing needs a gradient unless the base weights are trained
            boolean needDx = base || i > lowest;
            INDArray h1 = null;
            if (projections.needsInput(p + "attn.c_attn", target)) {
                h1 = scratch.get("h", n, c);
                LayerNorm.forward(bc.xIn, model.weight(p + "ln_1.weight"), model.weight(p + "ln_1.bias"), eps, h1, par);
            }
            projections.linear(p + "attn.c_attn").backward(dQkv, h1, bc.uAttn, needDx ? dH : null, false, projections.grads(p + "attn.c_attn", target, grads), par);
            if (!needDx) {
                break;
            }
            lnG = lnGrads(base, p + "ln_1", grads);
            LayerNorm.backward(dH, bc.xIn, model.weight(p + "ln_1.weight"), bc.ln1, dx, true, lnG[0], lnG[1], par);
        }
        if (base) {
            INDArray dWpe = Nd4j.zeros(dtype, config.nPositions(), c);
            Embedding.backward(dx, batch.inputIds(), t, dWte, dWpe);
            grads.put("wte.weight", dWte);
            grads.put("wpe.weight", dWpe);
        }
    }

    private INDArray[] lnGrads(boolean base, String prefix, Map<String, INDArray> grads) {
        if (!base) {
            return new INDArray[2];
        }
        INDArray g = Tensors.empty(dtype, 1, config.nEmbd()).reshape(config.nEmbd());
        INDArray bb = Tensors.empty(dtype, 1, config.nEmbd()).reshape(config.nEmbd());
        grads.put(prefix + ".weight", g);
        grads.put(prefix + ".bias", bb);
        return new INDArray[]{g, bb};
    }
}
