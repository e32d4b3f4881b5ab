package io.fedlora.agent.model;

import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraLayer;
import io.fedlora.aggregation.lora.LoraScaling;
import io.fedlora.agent.daemon.NativeThreads;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.ToDoubleFunction;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The hand-written backward against central finite differences, in fp64, on a tiny model with adapters on every
 * module kind (non-zero B, so A's gradient is non-trivial). The check is shown to catch a wrong LoRA scale and a
 * slightly perturbed gradient, so it can fail.
 */
class GradientCheckTest {

    private static final double H = 1e-6;
    private static final double TOLERANCE = 1e-4;
    private static final double SCALE = 1.5;

    private static Gpt2Model model;
    private static Map<String, LoraFactors> adapters;
    private static TokenBatch batch;

    @BeforeAll
    static void setUp() {
        // one native thread: tiny ops gain nothing from OpenMP, and its barriers stall on a shared 2-core box
        NativeThreads.apply(1);
        Gpt2Config config = new Gpt2Config(2, 2, 16, 12, 23, 1e-5);
        model = Gpt2Model.initialise(config, 11).castTo(DataType.DOUBLE);
        // GPT-2's 0.02 init makes every gradient tiny; larger weights exercise the non-linearities
        model.weights().forEach((k, w) -> {
            if (!k.contains("ln_")) {
                w.muli(20);
            }
        });
        SplittableRandom rng = new SplittableRandom(5);
        adapters = new LinkedHashMap<>();
        for (LoraLayer l : LoraTargets.resolve(config, List.of("c_attn", "c_proj", "c_fc"), 2, new LoraScaling(3, 2, false))) {
            adapters.put(l.module(), new LoraFactors(random(rng, 2, l.dIn()), random(rng, l.dOut(), 2)));
        }
        batch = TokenBatch.of(List.of(new int[]{1, 5, 7, 3, 9, 2, 22}, new int[]{4, 4, 8, 19}), List.of(3, 1));
    }

    private static INDArray random(SplittableRandom rng, int rows, int cols) {
        double[] d = new double[rows * cols];
        for (int i = 0; i < d.length; i++) {
            d[i] = rng.nextDouble(-0.5, 0.5);
        }
        return Nd4j.create(d, new long[]{rows, cols}, 'c');
    }

    /** Largest relative error between the analytic gradients and central differences of {@code loss}. */
    private static double maxRelativeError(Map<String, INDArray> params, Map<String, INDArray> analytic,
                                           ToDoubleFunction<Void> loss, int stride) {
        double worst = 0;
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            INDArray p = e.getValue();
            INDArray g = analytic.get(e.getKey());
            assertThat(g).as("gradient of %s", e.getKey()).isNotNull();
            for (long i = 0; i < p.length(); i += stride) {
                double orig = p.getDouble(i);
                p.putScalar(i, orig + H);
                double plus = loss.applyAsDouble(null);
                p.putScalar(i, orig - H);
                double minus = loss.applyAsDouble(null);
                p.putScalar(i, orig);
                double fd = (plus - minus) / (2 * H);
                double an = g.getDouble(i);
                // relative error with an absolute floor: entries whose true gradient is ~0 compare absolutely
                double err = Math.abs(fd - an) / Math.max(1e-6, Math.max(Math.abs(fd), Math.abs(an)));
                worst = Math.max(worst, err);
            }
        }
        return worst;
    }

    private static Map<String, INDArray> loraParams() {
        Map<String, INDArray> p = new LinkedHashMap<>();
        adapters.forEach((m, f) -> {
            p.put(m + ".lora_A", f.a());
            p.put(m + ".lora_B", f.b());
        });
        return p;
    }

    @Test
    void loraGradientsMatchFiniteDifferences() {
        Gpt2Network net = new Gpt2Network(model, adapters, SCALE);
        Gradients g = net.lossAndGradients(batch, GradientTarget.LORA);
        assertThat(g.grads()).hasSize(2 * adapters.size());
        double err = maxRelativeError(loraParams(), g.grads(), v -> net.loss(batch), 13);
        assertThat(err).isLessThanOrEqualTo(TOLERANCE);
    }

    @Test
    void checkFlagsAWrongScaleAndAPerturbedGradient() {
        Gpt2Network net = new Gpt2Network(model, adapters, SCALE);
        Gradients wrongScale = new Gpt2Network(model, adapters, SCALE * 1.01).lossAndGradients(batch, GradientTarget.LORA);
        assertThat(maxRelativeError(loraParams(), wrongScale.grads(), v -> net.loss(batch), 29)).isGreaterThan(TOLERANCE);

        Gradients g = net.lossAndGradients(batch, GradientTarget.LORA);
        String key = "h.0.attn.c_attn.lora_A";
        g.grads().get(key).putScalar(0, g.grads().get(key).getDouble(0) * 1.001);
        assertThat(maxRelativeError(Map.of(key, adapters.get("h.0.attn.c_attn").a()), g.grads(), v -> net.loss(batch), 1))
                .isGreaterThan(TOLERANCE);
    }

    @Test
    void gradientCheckpointingRecomputesTheSameGradients() {
        Gradients kept = new Gpt2Network(model, adapters, SCALE).lossAndGradients(batch, GradientTarget.LORA);
        Gradients recomputed = new Gpt2Network(model, adapters, SCALE, io.fedlora.agent.model.ops.Parallel.of(2), true)
                .lossAndGradients(batch, GradientTarget.LORA);
        assertThat(recomputed.loss()).isEqualTo(kept.loss());
        assertThat(recomputed.grads().keySet()).isEqualTo(kept.grads().keySet());
        kept.grads().forEach((k, g) -> assertThat(recomputed.grads().get(k)).as(k).isEqualTo(g));
    }

    @Test
    void ffaModeComputesOnlyB() {
        Gradients g = new Gpt2Network(model, adapters, SCALE).lossAndGradients(batch, GradientTarget.LORA_B_ONLY);
        assertThat(g.grads().keySet()).allMatch(k -> k.endsWith(".lora_B")).hasSize(adapters.size());
    }

    @Test
    void baseGradientsMatchFiniteDifferences() {
        Gpt2Network net = new Gpt2Network(model, Map.of(), 0.0);
        Gradients g = net.lossAndGradients(batch, GradientTarget.BASE);
        assertThat(g.grads().keySet()).containsExactlyInAnyOrderElementsOf(model.weights().keySet());
        double err = maxRelativeError(model.weights(), g.grads(), v -> net.loss(batch), 61);
        assertThat(err).isLessThanOrEqualTo(TOLERANCE);
    }

    @Test
    void zeroBLeavesTheBaseModelUnchanged() {
        // with B = 0 the adapters are inert: the adapted model's logits equal the base model's
        Map<String, LoraFactors> zeroB = new LinkedHashMap<>();
        adapters.forEach((m, f) -> zeroB.put(m, new LoraFactors(f.a(), f.b().mul(0))));
        INDArray adapted = new Gpt2Network(model, zeroB, SCALE).logits(batch);
        INDArray plain = new Gpt2Network(model, Map.of(), SCALE).logits(batch);
        assertThat(adapted.equalsWithEps(plain, 1e-12)).isTrue();
    }

    @Test
    void attentionIsCausalAndPaddingDoesNotLeakIntoRealPositions() {
        Gpt2Network net = new Gpt2Network(model, adapters, SCALE);
        INDArray a = net.logits(TokenBatch.of(List.of(new int[]{1, 2, 3, 4, 5}), List.of(1)));
        INDArray b = net.logits(TokenBatch.of(List.of(new int[]{1, 2, 3, 9, 9}), List.of(1)));
        // positions 0..2 see only tokens 1,2,3 in both sequences
        for (int t = 0; t < 3; t++) {
            assertThat(a.getRow(t).equalsWithEps(b.getRow(t), 1e-12)).as("position %d", t).isTrue();
        }
        assertThat(a.getRow(3).equalsWithEps(b.getRow(3), 1e-6)).isFalse();
        // a short sequence padded in a batch gets the same logits as alone
        INDArray padded = net.logits(TokenBatch.of(List.of(new int[]{1, 2, 3, 4, 5}, new int[]{7, 8, 9}), List.of(1, 1)));
        INDArray alone = net.logits(TokenBatch.of(List.of(new int[]{7, 8, 9}), List.of(1)));
        for (int t = 0; t < 2; t++) {
            assertThat(padded.getRow(4 + t).equalsWithEps(alone.getRow(t), 1e-10)).isTrue();
        }
    }
}
