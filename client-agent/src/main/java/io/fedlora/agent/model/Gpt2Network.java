package io.fedlora.agent.model;

import io.fedlora.aggregation.lora.LoraFactors;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Forward and hand-written backward pass of a GPT-2 layout causal LM with LoRA adapters, over INDArray ops.
 *
 * <p>Each adapted Conv1D layer computes {@code y = x·W + b + s·(x·Aᵀ)·Bᵀ} (W is {@code d_in × d_out}, A {@code r × d_in},
 * B {@code d_out × r}). Activations are flattened to {@code [batch·seq, features]} so every projection is one GEMM;
 * attention runs batched over {@code [batch·heads, seq, headDim]}. Backward follows the forward in reverse and, in
 * the LoRA modes, produces only the adapters' gradients: frozen weights pass activation gradients through but never
 * get one of their own. Hand-written rather than SameDiff: M2.1's SameDiff re-analyses the graph per call (tens of ms
 * of overhead per step on a 2-core box), lacks a causal mask and HF's {@code gelu_new}.
 *
 * <p>The adapter arrays are referenced, not copied: an optimiser updating them in place is seen by the next pass.
 */
public final class Gpt2Network {

    private static final double MASK_VALUE = -1e9;

    private final Gpt2Model model;
    private final Gpt2Config config;
    private final Map<String, LoraFactors> adapters;
    private final double loraScale;
    private final DataType dtype;
    private final Map<Integer, INDArray> causalMasks = new HashMap<>();

    /**
     * @param adapters  LoRA factors by module name ({@code h.0.attn.c_attn}); may be empty
     * @param loraScale the adapters' scale s (alpha/r, or alpha/sqrt(r) for rsLoRA)
     */
    public Gpt2Network(Gpt2Model model, Map<String, LoraFactors> adapters, double loraScale) {
        this.model = model;
        this.config = model.config();
        this.adapters = Map.copyOf(adapters);
        this.loraScale = loraScale;
        this.dtype = model.dataType();
        for (Map.Entry<String, LoraFactors> e : this.adapters.entrySet()) {
            INDArray w = model.weight(e.getKey() + ".weight");
            LoraFactors f = e.getValue();
            if (f.a().size(1) != w.size(0) || f.b().size(0) != w.size(1)) {
                throw new IllegalArgumentException("adapter " + e.getKey() + " (A " + Arrays.toString(f.a().shape()) + ", B "
                        + Arrays.toString(f.b().shape()) + ") does not fit the Conv1D weight " + Arrays.toString(w.shape()));
            }
            if (f.a().dataType() != dtype || f.b().dataType() != dtype) {
                throw new IllegalArgumentException("adapter " + e.getKey() + " is " + f.a().dataType() + ", the model " + dtype);
            }
        }
    }

    public Gpt2Config config() {
        return config;
    }

    /** Next-token logits {@code [batch·seq, vocab]} (row {@code b·seq + t} predicts the token after position t). */
    public INDArray logits(TokenBatch batch) {
        return forward(batch, false).logits;
    }

    /** Mean cross-entropy over the batch's target tokens, forward only. */
    public double loss(TokenBatch batch) {
        return crossEntropy(logits(batch), batch, false).loss;
    }

    /** Mean cross-entropy over the batch's target tokens of logits from {@link #logits}. */
    public double lossOf(INDArray logits, TokenBatch batch) {
        return crossEntropy(logits, batch, false).loss;
    }

    /** Loss and the gradients of the chosen parameters for one batch. */
    public Gradients lossAndGradients(TokenBatch batch, GradientTarget target) {
        Forward f = forward(batch, true);
        Loss l = crossEntropy(f.logits, batch, true);
        Map<String, INDArray> grads = new LinkedHashMap<>();
        backward(f, l.dLogits, batch, target, grads);
        return new Gradients(l.loss, l.count, grads);
    }

    // ---------------------------------------------------------------------------------------------------- forward

    private static final class BlockCache {
        NnOps.LayerNormCache ln1;
        INDArray h1;
        INDArray uAttn;
        INDArray q;
        INDArray k;
        INDArray v;
        INDArray probs;
        INDArray attnY;
        INDArray uProj;
        NnOps.LayerNormCache ln2;
        INDArray h2;
        INDArray uFc;
        INDArray fcPre;
        INDArray geluT;
        INDArray fcAct;
        INDArray uMProj;
    }

    private static final class Forward {
        BlockCache[] blocks;
        NnOps.LayerNormCache lnF;
        INDArray hF;
        INDArray logits;
    }

    private Forward forward(TokenBatch batch, boolean keep) {
        int b = batch.batchSize();
        int t = batch.seqLen();
        if (t > config.nPositions()) {
            throw new IllegalArgumentException("sequence length " + t + " exceeds n_positions " + config.nPositions());
        }
        int n = b * t;
        int c = config.nEmbd();
        double eps = config.layerNormEpsilon();
        Forward f = new Forward();
        f.blocks = new BlockCache[config.nLayer()];

        INDArray wte = model.weight("wte.weight");
        for (int id : batch.inputIds()) {
            if (id < 0 || id >= config.vocabSize()) {
                throw new IllegalArgumentException("token id " + id + " outside the vocabulary of " + config.vocabSize());
            }
        }
        INDArray x = Nd4j.pullRows(wte, 1, batch.inputIds());
        INDArray pos = model.weight("wpe.weight").get(NDArrayIndex.interval(0, t), NDArrayIndex.all()).dup('c');
        x = x.reshape('c', b, (long) t * c).addiRowVector(pos.reshape('c', 1, (long) t * c)).reshape('c', n, c);

        for (int i = 0; i < config.nLayer(); i++) {
            String p = "h." + i + ".";
            BlockCache bc = new BlockCache();
            NnOps.LayerNormCache[] ln = new NnOps.LayerNormCache[1];
            INDArray[] u = new INDArray[1];

            INDArray h1 = NnOps.layerNorm(x, model.weight(p + "ln_1.weight"), model.weight(p + "ln_1.bias"), eps, ln);
            bc.ln1 = ln[0];
            INDArray qkv = linear(h1, p + "attn.c_attn", u);
            bc.uAttn = u[0];
            INDArray y = attention(qkv, b, t, bc);
            u[0] = null;
            INDArray proj = linear(y, p + "attn.c_proj", u);
            bc.uProj = u[0];
            INDArray xMid = x.add(proj);

            INDArray h2 = NnOps.layerNorm(xMid, model.weight(p + "ln_2.weight"), model.weight(p + "ln_2.bias"), eps, ln);
            bc.ln2 = ln[0];
            u[0] = null;
            INDArray fcPre = linear(h2, p + "mlp.c_fc", u);
            bc.uFc = u[0];
            INDArray[] tanh = new INDArray[1];
            INDArray fcAct = NnOps.geluNew(fcPre, tanh);
            u[0] = null;
            INDArray mproj = linear(fcAct, p + "mlp.c_proj", u);
            bc.uMProj = u[0];
            INDArray xOut = xMid.addi(mproj);

            if (keep) {
                bc.h1 = h1;
                bc.attnY = y;
                bc.h2 = h2;
                bc.fcPre = fcPre;
                bc.geluT = tanh[0];
                bc.fcAct = fcAct;
                f.blocks[i] = bc;
            }
            x = xOut;
        }
        NnOps.LayerNormCache[] ln = new NnOps.LayerNormCache[1];
        INDArray hF = NnOps.layerNorm(x, model.weight("ln_f.weight"), model.weight("ln_f.bias"), eps, ln);
        f.logits = Nd4j.gemm(hF, wte, false, true);
        if (keep) {
            f.lnF = ln[0];
            f.hF = hF;
        }
        return f;
    }

    /** x·W + b (+ s·(x·Aᵀ)·Bᵀ when the module is adapted, with x·Aᵀ returned in {@code uOut[0]}). */
    private INDArray linear(INDArray x, String module, INDArray[] uOut) {
        INDArray y = x.mmul(model.weight(module + ".weight")).addiRowVector(model.weight(module + ".bias"));
        LoraFactors f = adapters.get(module);
        if (f != null) {
            INDArray u = Nd4j.gemm(x, f.a(), false, true);
            Nd4j.gemm(u, f.b(), y, false, true, loraScale, 1.0);
            uOut[0] = u;
        }
        return y;
    }

    /** Causal multi-head self-attention on the fused qkv projection {@code [b·t, 3c]}; returns {@code [b·t, c]}. */
    private INDArray attention(INDArray qkv, int b, int t, BlockCache bc) {
        int h = config.nHead();
        int d = config.headDim();
        // [b, t, 3, h, d] -> [3, b, h, t, d]
        INDArray heads = qkv.reshape('c', b, t, 3, h, d).permute(2, 0, 3, 1, 4).dup('c');
        INDArray q = heads.get(NDArrayIndex.point(0)).reshape('c', (long) b * h, t, d);
        INDArray k = heads.get(NDArrayIndex.point(1)).reshape('c', (long) b * h, t, d);
        INDArray v = heads.get(NDArrayIndex.point(2)).reshape('c', (long) b * h, t, d);
        INDArray scores = Nd4j.matmul(q, k, false, true, false).muli(1.0 / Math.sqrt(d));
        scores.reshape('c', (long) b * h, (long) t * t).addiRowVector(causalMask(t));
        INDArray probs = NnOps.softmaxRowsInPlace(scores.reshape('c', (long) b * h * t, t)).reshape('c', (long) b * h, t, t);
        INDArray y = Nd4j.matmul(probs, v);
        bc.q = q;
        bc.k = k;
        bc.v = v;
        bc.probs = probs;
        return y.reshape('c', b, h, t, d).permute(0, 2, 1, 3).dup('c').reshape('c', (long) b * t, (long) h * d);
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

    // ------------------------------------------------------------------------------------------------------- loss

    private record Loss(double loss, double count, INDArray dLogits) {
    }

    private Loss crossEntropy(INDArray logits, TokenBatch batch, boolean withGrad) {
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
                if (tg < 0 || tg >= config.vocabSize()) {
                    throw new IllegalArgumentException("target id " + tg + " outside the vocabulary of " + config.vocabSize());
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
            dLogits.muliColumnVector(Nd4j.create(scale, new long[]{n, 1}, 'c').castTo(dtype));
        }
        return new Loss(total / count, count, dLogits);
    }

    // --------------------------------------------------------------------------------------------------- backward

    private void backward(Forward f, INDArray dLogits, TokenBatch batch, GradientTarget target, Map<String, INDArray> grads) {
        boolean base = target == GradientTarget.BASE;
        int b = batch.batchSize();
        int t = batch.seqLen();
        int c = config.nEmbd();
        INDArray wte = model.weight("wte.weight");
        INDArray dWte = base ? Nd4j.gemm(dLogits, f.hF, true, false) : null;
        INDArray dx = Nd4j.gemm(dLogits, wte, false, false);
        INDArray[] pg = base ? new INDArray[2] : null;
        dx = NnOps.layerNormBackward(dx, model.weight("ln_f.weight"), f.lnF, pg);
        putLn(grads, "ln_f", pg);
        int lowest = lowestAdaptedLayer();
        for (int i = config.nLayer() - 1; i >= 0; i--) {
            if (!base && i < lowest) {
                break;
            }
            String p = "h." + i + ".";
            BlockCache bc = f.blocks[i];
            // x_out = x_mid + mlp(ln_2(x_mid)); dx is d x_out
            INDArray dAct = linearBackward(dx, bc.fcAct, bc.uMProj, p + "mlp.c_proj", target, grads);
            INDArray dFcPre = NnOps.geluNewBackward(dAct, bc.fcPre, bc.geluT);
            INDArray dH2 = linearBackward(dFcPre, bc.h2, bc.uFc, p + "mlp.c_fc", target, grads);
            INDArray dXMid = NnOps.layerNormBackward(dH2, model.weight(p + "ln_2.weight"), bc.ln2, pg).addi(dx);
            putLn(grads, p + "ln_2", pg);
            // x_mid = x_in + attn(ln_1(x_in))
            INDArray dY = linearBackward(dXMid, bc.attnY, bc.uProj, p + "attn.c_proj", target, grads);
            INDArray dQkv = attentionBackward(dY, bc, b, t);
            // below the lowest adapted layer nothing needs a gradient unless the base weights are trained
            boolean needDx = base || i > lowest;
            INDArray dH1 = linearBackward(dQkv, bc.h1, bc.uAttn, p + "attn.c_attn", target, grads, needDx);
            if (!needDx) {
                break;
            }
            dx = NnOps.layerNormBackward(dH1, model.weight(p + "ln_1.weight"), bc.ln1, pg).addi(dXMid);
            putLn(grads, p + "ln_1", pg);
        }
        if (base) {
            int[] ids = batch.inputIds();
            for (int r = 0; r < ids.length; r++) {
                dWte.getRow(ids[r]).addi(dx.getRow(r));
            }
            INDArray dWpe = Nd4j.zeros(dtype, config.nPositions(), c);
            dWpe.get(NDArrayIndex.interval(0, t), NDArrayIndex.all())
                    .assign(dx.reshape('c', b, (long) t * c).sum(0).reshape('c', t, c));
            grads.put("wte.weight", dWte);
            grads.put("wpe.weight", dWpe);
        }
    }

    private int lowestAdaptedLayer() {
        int lowest = Integer.MAX_VALUE;
        for (String module : adapters.keySet()) {
            int dot = module.indexOf('.', 2);
            lowest = Math.min(lowest, Integer.parseInt(module.substring(2, dot)));
        }
        return lowest;
    }

    private static void putLn(Map<String, INDArray> grads, String prefix, INDArray[] pg) {
        if (pg != null) {
            grads.put(prefix + ".weight", pg[0]);
            grads.put(prefix + ".bias", pg[1]);
        }
    }

    /** dx of an (adapted) Conv1D layer, recording the gradients the target asks for. */
    private INDArray linearBackward(INDArray dy, INDArray x, INDArray u, String module, GradientTarget target,
                                    Map<String, INDArray> grads) {
        return linearBackward(dy, x, u, module, target, grads, true);
    }

    /** As above; with {@code needDx} false only the parameter gradients are computed and null is returned. */
    private INDArray linearBackward(INDArray dy, INDArray x, INDArray u, String module, GradientTarget target,
                                    Map<String, INDArray> grads, boolean needDx) {
        INDArray dx = needDx ? Nd4j.gemm(dy, model.weight(module + ".weight"), false, true) : null;
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
            grads.put(module + ".weight", Nd4j.gemm(x, dy, true, false));
            grads.put(module + ".bias", dy.sum(0));
        }
        return dx;
    }

    /** Gradient of the fused qkv projection from the gradient of the attention output {@code [b·t, c]}. */
    private INDArray attentionBackward(INDArray dY, BlockCache bc, int b, int t) {
        int h = config.nHead();
        int d = config.headDim();
        INDArray dYh = dY.reshape('c', b, t, h, d).permute(0, 2, 1, 3).dup('c').reshape('c', (long) b * h, t, d);
        INDArray dP = Nd4j.matmul(dYh, bc.v, false, true, false);
        INDArray dV = Nd4j.matmul(bc.probs, dYh, true, false, false);
        INDArray dS = NnOps.softmaxRowsBackwardInPlace(dP.reshape('c', (long) b * h * t, t),
                bc.probs.reshape('c', (long) b * h * t, t)).reshape('c', (long) b * h, t, t).muli(1.0 / Math.sqrt(d));
        INDArray dQ = Nd4j.matmul(dS, bc.k);
        INDArray dK = Nd4j.matmul(dS, bc.q, true, false, false);
        INDArray stacked = Nd4j.stack(0, dQ.reshape('c', b, h, t, d), dK.reshape('c', b, h, t, d), dV.reshape('c', b, h, t, d));
        // [3, b, h, t, d] -> [b, t, 3, h, d]
        return stacked.permute(1, 3, 0, 2, 4).dup('c').reshape('c', (long) b * t, 3L * h * d);
    }
}
