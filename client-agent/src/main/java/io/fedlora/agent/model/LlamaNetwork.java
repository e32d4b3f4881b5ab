package io.fedlora.agent.model;

import io.fedlora.aggregation.family.LlamaFamily;
import io.fedlora.aggregation.lora.LoraFactors;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Forward and hand-written backward pass of a Llama-layout causal LM (RMSNorm, RoPE, grouped-query attention, SwiGLU,
 * {@code nn.Linear} weights, optional q/k/v(/o) biases, tied or untied head) with LoRA adapters on any of the seven
 * projections. Each adapted layer computes {@code y = x·Wᵀ + b + s·(x·Aᵀ)·Bᵀ} (W {@code d_out × d_in}, A
 * {@code r × d_in}, B {@code d_out × r}). Activations are {@code [batch·seq, features]}; attention runs batched over
 * {@code [batch·heads, seq, headDim]}, key/value heads repeated to their query groups as HF's {@code repeat_kv} does.
 * In the LoRA modes only the adapters get gradients; in BASE mode every weight (for {@code init-model}).
 */
public final class LlamaNetwork implements LmNetwork {

    private static final double MASK_VALUE = -1e9;

    private final LlamaModel model;
    private final LlamaFamily.Spec spec;
    private final Map<String, LoraFactors> adapters;
    private final double loraScale;
    private final DataType dtype;
    private final Map<Integer, INDArray> causalMasks = new HashMap<>();
    private final Map<Integer, LlamaOps.Rotary> rotaries = new HashMap<>();

    public LlamaNetwork(LlamaModel model, Map<String, LoraFactors> adapters, double loraScale) {
        this.model = model;
        this.spec = model.spec();
        this.adapters = Map.copyOf(adapters);
        this.loraScale = loraScale;
        this.dtype = model.dataType();
        for (Map.Entry<String, LoraFactors> e : this.adapters.entrySet()) {
            INDArray w = model.weight(e.getKey() + ".weight");
            LoraFactors f = e.getValue();
            if (f.a().size(1) != w.size(1) || f.b().size(0) != w.size(0)) {
                throw new IllegalArgumentException("adapter " + e.getKey() + " (A " + Arrays.toString(f.a().shape()) + ", B "
                        + Arrays.toString(f.b().shape()) + ") does not fit the Linear weight " + Arrays.toString(w.shape()));
            }
            if (f.a().dataType() != dtype || f.b().dataType() != dtype) {
                throw new IllegalArgumentException("adapter " + e.getKey() + " is " + f.a().dataType() + ", the model " + dtype);
            }
        }
    }

    @Override
    public INDArray logits(TokenBatch batch) {
        return forward(batch, false).logits;
    }

    @Override
    public double loss(TokenBatch batch) {
        return lossOf(logits(batch), batch);
    }

    @Override
    public double lossOf(INDArray logits, TokenBatch batch) {
        return CrossEntropy.of(logits, batch, spec.vocabSize(), false).loss();
    }

    @Override
    public Gradients lossAndGradients(TokenBatch batch, GradientTarget target) {
        Forward f = forward(batch, true);
        CrossEntropy.Loss l = CrossEntropy.of(f.logits, batch, spec.vocabSize(), true);
        Map<String, INDArray> grads = new LinkedHashMap<>();
        backward(f, l.dLogits(), batch, target, grads);
        return new Gradients(l.loss(), l.count(), grads);
    }

    // ---------------------------------------------------------------------------------------------------- forward

    private static final class AttentionCache {
        INDArray q;
        INDArray kExp;
        INDArray vExp;
        INDArray probs;
    }

    private static final class BlockCache {
        LlamaOps.RmsNormCache ln1;
        INDArray h1;
        INDArray uQ;
        INDArray uK;
        INDArray uV;
        AttentionCache attn;
        INDArray y;
        INDArray uO;
        LlamaOps.RmsNormCache ln2;
        INDArray h2;
        INDArray uGate;
        INDArray uUp;
        LlamaOps.SwiGluCache glu;
        INDArray m;
        INDArray uDown;
    }

    private static final class Forward {
        BlockCache[] blocks;
        LlamaOps.RmsNormCache lnF;
        INDArray hF;
        INDArray logits;
    }

    private Forward forward(TokenBatch batch, boolean keep) {
        int b = batch.batchSize();
        int t = batch.seqLen();
        if (t > spec.maxPositions()) {
            throw new IllegalArgumentException("sequence length " + t + " exceeds the model's " + spec.maxPositions() + " positions");
        }
        for (int id : batch.inputIds()) {
            if (id < 0 || id >= spec.vocabSize()) {
                throw new IllegalArgumentException("token id " + id + " outside the vocabulary of " + spec.vocabSize());
            }
        }
        double eps = spec.rmsNormEps();
        Forward f = new Forward();
        f.blocks = new BlockCache[spec.numLayers()];
        INDArray x = Nd4j.pullRows(model.weight("model.embed_tokens.weight"), 1, batch.inputIds());
        LlamaOps.Rotary rot = rotary(t);
        for (int i = 0; i < spec.numLayers(); i++) {
            String p = "model.layers." + i + ".";
            BlockCache bc = new BlockCache();
            LlamaOps.RmsNormCache[] ln = new LlamaOps.RmsNormCache[1];
            INDArray[] u = new INDArray[1];

            INDArray h1 = LlamaOps.rmsNorm(x, model.weight(p + "input_layernorm.weight"), eps, ln);
            bc.ln1 = ln[0];
            INDArray q = linear(h1, p + "self_attn.q_proj", u);
            bc.uQ = u[0];
            u[0] = null;
            INDArray k = linear(h1, p + "self_attn.k_proj", u);
            bc.uK = u[0];
            u[0] = null;
            INDArray v = linear(h1, p + "self_attn.v_proj", u);
            bc.uV = u[0];
            u[0] = null;
            AttentionCache ac = new AttentionCache();
            INDArray y = attention(q, k, v, b, t, rot, ac);
            INDArray o = linear(y, p + "self_attn.o_proj", u);
            bc.uO = u[0];
            u[0] = null;
            INDArray xMid = x.add(o);

            INDArray h2 = LlamaOps.rmsNorm(xMid, model.weight(p + "post_attention_layernorm.weight"), eps, ln);
            bc.ln2 = ln[0];
            INDArray gate = linear(h2, p + "mlp.gate_proj", u);
            bc.uGate = u[0];
            u[0] = null;
            INDArray up = linear(h2, p + "mlp.up_proj", u);
            bc.uUp = u[0];
            u[0] = null;
            LlamaOps.SwiGluCache[] gc = new LlamaOps.SwiGluCache[1];
            INDArray m = LlamaOps.swiGlu(gate, up, gc);
            INDArray down = linear(m, p + "mlp.down_proj", u);
            bc.uDown = u[0];
            INDArray xOut = xMid.addi(down);
            if (keep) {
                bc.h1 = h1;
                bc.attn = ac;
                bc.y = y;
                bc.h2 = h2;
                bc.glu = gc[0];
                bc.m = m;
                f.blocks[i] = bc;
            }
            x = xOut;
        }
        LlamaOps.RmsNormCache[] ln = new LlamaOps.RmsNormCache[1];
        INDArray hF = LlamaOps.rmsNorm(x, model.weight("model.norm.weight"), eps, ln);
        f.logits = Nd4j.gemm(hF, model.head(), false, true);
        if (keep) {
            f.lnF = ln[0];
            f.hF = hF;
        }
        return f;
    }

    /** x·Wᵀ + b (+ s·(x·Aᵀ)·Bᵀ when adapted, with x·Aᵀ returned in {@code uOut[0]}). */
    private INDArray linear(INDArray x, String module, INDArray[] uOut) {
        INDArray y = Nd4j.gemm(x, model.weight(module + ".weight"), false, true);
        INDArray bias = model.weights().get(module + ".bias");
        if (bias != null) {
            y.addiRowVector(bias);
        }
        LoraFactors f = adapters.get(module);
        if (f != null) {
            INDArray u = Nd4j.gemm(x, f.a(), false, true);
            Nd4j.gemm(u, f.b(), y, false, true, loraScale, 1.0);
            uOut[0] = u;
        }
        return y;
    }

    /** [b·t, heads·d] → [b·heads, t, d]. */
    private static INDArray toHeads(INDArray x, int b, int t, int heads, int d) {
        return x.reshape('c', b, t, heads, d).permute(0, 2, 1, 3).dup('c').reshape('c', (long) b * heads, t, d);
    }

    /** [b·heads, t, d] → [b·t, heads·d]. */
    private static INDArray fromHeads(INDArray x, int b, int t, int heads, int d) {
        return x.reshape('c', b, heads, t, d).permute(0, 2, 1, 3).dup('c').reshape('c', (long) b * t, (long) heads * d);
    }

    /** Repeats each key/value head to the query heads of its group: [b·kv, t, d] → [b·kv·g, t, d]. */
    private INDArray expandKv(INDArray kv, int b, int t) {
        int g = spec.groupSize();
        if (g == 1) {
            return kv;
        }
        int nkv = spec.numKeyValueHeads();
        long td = (long) t * spec.headDim();
        INDArray src = kv.reshape('c', b, nkv, td);
        INDArray out = Nd4j.createUninitialized(dtype, b, nkv, g, td);
        for (int gi = 0; gi < g; gi++) {
            out.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(gi), NDArrayIndex.all()).assign(src);
        }
        return out.reshape('c', (long) b * nkv * g, t, spec.headDim());
    }

    /** Sum of the gradients of a key/value head's repeats: [b·kv·g, t, d] → [b·kv, t, d]. */
    private INDArray reduceKv(INDArray dExp, int b, int t) {
        int g = spec.groupSize();
        if (g == 1) {
            return dExp;
        }
        int nkv = spec.numKeyValueHeads();
        return dExp.reshape('c', b, nkv, g, (long) t * spec.headDim()).sum(2).reshape('c', (long) b * nkv, t, spec.headDim());
    }

    private INDArray attention(INDArray q, INDArray k, INDArray v, int b, int t, LlamaOps.Rotary rot, AttentionCache ac) {
        int h = spec.numHeads();
        int kvh = spec.numKeyValueHeads();
        int d = spec.headDim();
        INDArray qr = LlamaOps.rope(toHeads(q, b, t, h, d), rot);
        INDArray kr = LlamaOps.rope(toHeads(k, b, t, kvh, d), rot);
        INDArray kExp = expandKv(kr, b, t);
        INDArray vExp = expandKv(toHeads(v, b, t, kvh, d), b, t);
        INDArray scores = Nd4j.matmul(qr, kExp, false, true, false).muli(1.0 / Math.sqrt(d));
        scores.reshape('c', (long) b * h, (long) t * t).addiRowVector(causalMask(t));
        INDArray probs = LlamaOps.softmaxRowsInPlace(scores.reshape('c', (long) b * h * t, t)).reshape('c', (long) b * h, t, t);
        INDArray y = Nd4j.matmul(probs, vExp);
        ac.q = qr;
        ac.kExp = kExp;
        ac.vExp = vExp;
        ac.probs = probs;
        return fromHeads(y, b, t, h, d);
    }

    private LlamaOps.Rotary rotary(int t) {
        return rotaries.computeIfAbsent(t, len ->
                StepWorkspace.outside(() -> LlamaOps.rotary(len, spec.headDim(), spec.ropeTheta(), dtype)));
    }

    private INDArray causalMask(int t) {
        return causalMasks.computeIfAbsent(t, len -> {
            double[] m = new double[len * len];
            for (int i = 0; i < len; i++) {
                for (int j = i + 1; j < len; j++) {
                    m[i * len + j] = MASK_VALUE;
                }
            }
            return StepWorkspace.outside(() -> Nd4j.create(m, new long[]{1, (long) len * len}, 'c').castTo(dtype));
        });
    }

    // --------------------------------------------------------------------------------------------------- backward

    private void backward(Forward f, INDArray dLogits, TokenBatch batch, GradientTarget target, Map<String, INDArray> grads) {
        boolean base = target == GradientTarget.BASE;
        int b = batch.batchSize();
        int t = batch.seqLen();
        INDArray dHead = base ? Nd4j.gemm(dLogits, f.hF, true, false) : null;
        INDArray dx = Nd4j.gemm(dLogits, model.head(), false, false);
        INDArray[] pg = base ? new INDArray[1] : null;
        dx = LlamaOps.rmsNormBackward(dx, model.weight("model.norm.weight"), f.lnF, pg);
        putNorm(grads, "model.norm", pg);
        int lowest = lowestAdaptedLayer();
        LlamaOps.Rotary rot = rotary(t);
        for (int i = spec.numLayers() - 1; i >= 0; i--) {
            if (!base && i < lowest) {
                break;
            }
            String p = "model.layers." + i + ".";
            BlockCache bc = f.blocks[i];
            INDArray dM = linearBackward(dx, bc.m, bc.uDown, p + "mlp.down_proj", target, grads, true);
            INDArray[] dGu = LlamaOps.swiGluBackward(dM, bc.glu);
            INDArray dH2 = linearBackward(dGu[0], bc.h2, bc.uGate, p + "mlp.gate_proj", target, grads, true);
            dH2.addi(linearBackward(dGu[1], bc.h2, bc.uUp, p + "mlp.up_proj", target, grads, true));
            INDArray dXMid = LlamaOps.rmsNormBackward(dH2, model.weight(p + "post_attention_layernorm.weight"), bc.ln2, pg).addi(dx);
            putNorm(grads, p + "post_attention_layernorm", pg);
            INDArray dY = linearBackward(dXMid, bc.y, bc.uO, p + "self_attn.o_proj", target, grads, true);
            INDArray[] dQkv = attentionBackward(dY, bc.attn, b, t, rot);
            boolean needDx = base || i > lowest;
            INDArray dH1 = linearBackward(dQkv[0], bc.h1, bc.uQ, p + "self_attn.q_proj", target, grads, needDx);
            INDArray dK = linearBackward(dQkv[1], bc.h1, bc.uK, p + "self_attn.k_proj", target, grads, needDx);
            INDArray dV = linearBackward(dQkv[2], bc.h1, bc.uV, p + "self_attn.v_proj", target, grads, needDx);
            if (!needDx) {
                break;
            }
            dH1.addi(dK).addi(dV);
            dx = LlamaOps.rmsNormBackward(dH1, model.weight(p + "input_layernorm.weight"), bc.ln1, pg).addi(dXMid);
            putNorm(grads, p + "input_layernorm", pg);
        }
        if (base) {
            INDArray dEmb = spec.tiedEmbeddings() ? dHead : Nd4j.zeros(dtype, spec.vocabSize(), spec.hiddenSize());
            int[] ids = batch.inputIds();
            for (int r = 0; r < ids.length; r++) {
                dEmb.getRow(ids[r]).addi(dx.getRow(r));
            }
            grads.put("model.embed_tokens.weight", dEmb);
            if (!spec.tiedEmbeddings()) {
                grads.put("lm_head.weight", dHead);
            }
        }
    }

    private int lowestAdaptedLayer() {
        int lowest = Integer.MAX_VALUE;
        for (String module : adapters.keySet()) {
            lowest = Math.min(lowest, spec.layerOf(module));
        }
        return lowest;
    }

    private static void putNorm(Map<String, INDArray> grads, String prefix, INDArray[] pg) {
        if (pg != null) {
            grads.put(prefix + ".weight", pg[0]);
        }
    }

    /** dx of an (adapted) Linear layer, recording the gradients the target asks for; null when {@code needDx} is false. */
    private INDArray linearBackward(INDArray dy, INDArray x, INDArray u, String module, GradientTarget target,
                                    Map<String, INDArray> grads, boolean needDx) {
        INDArray dx = needDx ? Nd4j.gemm(dy, model.weight(module + ".weight"), false, false) : null;
        LoraFactors f = adapters.get(module);
        if (f != null) {
            INDArray du = Nd4j.gemm(dy, f.b(), false, false).muli(loraScale);
            if (target != GradientTarget.BASE) {
                grads.put(module + ".lora_B", Nd4j.gemm(dy, u, true, false).muli(loraScale));
                if (target == GradientTarget.LORA) {
                    grads.put(module + ".lora_A", Nd4j.gemm(du, x, true, false));
                }
            }
            if (needDx) {
                Nd4j.gemm(du, f.a(), dx, false, false, 1.0, 1.0);
            }
        }
        if (target == GradientTarget.BASE) {
            grads.put(module + ".weight", Nd4j.gemm(dy, x, true, false));
            if (model.weights().containsKey(module + ".bias")) {
                grads.put(module + ".bias", dy.sum(0));
            }
        }
        return dx;
    }

    /** Gradients of q, k and v ({@code [b·t, heads·d]} each) from that of the attention output. */
    private INDArray[] attentionBackward(INDArray dY, AttentionCache ac, int b, int t, LlamaOps.Rotary rot) {
        int h = spec.numHeads();
        int kvh = spec.numKeyValueHeads();
        int d = spec.headDim();
        INDArray dYh = toHeads(dY, b, t, h, d);
        INDArray dP = Nd4j.matmul(dYh, ac.vExp, false, true, false);
        INDArray dVExp = Nd4j.matmul(ac.probs, dYh, true, false, false);
        INDArray dS = LlamaOps.softmaxRowsBackwardInPlace(dP.reshape('c', (long) b * h * t, t),
                ac.probs.reshape('c', (long) b * h * t, t)).reshape('c', (long) b * h, t, t).muli(1.0 / Math.sqrt(d));
        INDArray dQr = Nd4j.matmul(dS, ac.kExp);
        INDArray dKExp = Nd4j.matmul(dS, ac.q, true, false, false);
        INDArray dQ = LlamaOps.ropeBackward(dQr, rot);
        INDArray dK = LlamaOps.ropeBackward(reduceKv(dKExp, b, t), rot);
        INDArray dV = reduceKv(dVExp, b, t);
        return new INDArray[]{fromHeads(dQ, b, t, h, d), fromHeads(dK, b, t, kvh, d), fromHeads(dV, b, t, kvh, d)};
    }
}
