package io.fedlora.agent.model;

import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraLayer;
import io.fedlora.aggregation.lora.LoraScaling;
import io.fedlora.agent.daemon.NativeThreads;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static io.fedlora.agent.model.ops.FiniteDifferences.adapterParams;
import static io.fedlora.agent.model.ops.FiniteDifferences.maxRelativeError;
import static io.fedlora.agent.model.ops.FiniteDifferences.uniform;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The hand-written backward against central finite differences, in fp64, on a tiny model with adapters on every
 * module kind (non-zero B, so A's gradient is non-trivial). The check is shown to catch a wrong LoRA scale and a
 * slightly perturbed gradient, so it can fail.
 */
class GradientCheckTest {

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
            adapters.put(l.module(), new LoraFactors(uniform(rng, 0.5, 2, l.dIn()), uniform(rng, 0.5, l.dOut(), 2)));
        }
        batch = TokenBatch.of(List.of(new int[]{1, 5, 7, 3, 9, 2, 22}, new int[]{4, 4, 8, 19}), List.of(3, 1));
    }

    @Test
    void loraGradientsMatchFiniteDifferences() {
        Gpt2Network net = new Gpt2Network(model, adapters, SCALE);
        Gradients g = net.lossAndGradients(batch, GradientTarget.LORA);
        assertThat(g.grads()).hasSize(2 * adapters.size());
        double err = maxRelativeError(adapterParams(adapters), g.grads(), () -> net.loss(batch), 13);
        assertThat(err).isLessThanOrEqualTo(TOLERANCE);
    }

    @Test
    void checkFlagsAWrongScaleAndAPerturbedGradient() {
        Gpt2Network net = new Gpt2Network(model, adapters, SCALE);
        Gradients wrongScale = new Gpt2Network(model, adapters, SCALE * 1.01).lossAndGradients(batch, GradientTarget.LORA);
        assertThat(maxRelativeError(adapterParams(adapters), wrongScale.grads(), () -> net.loss(batch), 29)).isGreaterThan(TOLERANCE);

        Gradients g = net.lossAndGradients(batch, GradientTarget.LORA);
        String key = "h.0.attn.c_attn.lora_A";
        g.grads().get(key).putScalar(0, g.grads().get(key).getDouble(0) * 1.001);
        assertThat(maxRelativeError(Map.of(key, adapters.get("h.0.attn.c_attn").a()), g.grads(), () -> net.loss(batch), 1))
                .isGreaterThan(TOLERANCE);
    }

    @Test
    void gradientCheckpointingRecomputesTheSameGradients() {
        Gradients kept = new Gpt2Network(model, adapters, SCALE).lossAndGradients(batch, GradientTarget.LORA);
        Gradients recomputed = new Gpt2Network(model, adapters, SCALE, io.fedlora.agent.model.ops.Parallel.of(2).splittingEverything(), true)
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
        double err = maxRelativeError(model.weights(), g.grads(), () -> net.loss(batch), 61);
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
