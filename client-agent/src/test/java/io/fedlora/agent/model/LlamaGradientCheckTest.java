package io.fedlora.agent.model;

import static io.fedlora.agent.model.ops.FiniteDifferences.adapterParams;
import static io.fedlora.agent.model.ops.FiniteDifferences.maxRelativeError;
import static io.fedlora.agent.model.ops.FiniteDifferences.uniform;
import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.agent.daemon.NativeThreads;
import io.fedlora.agent.model.ops.Parallel;
import io.fedlora.aggregation.family.LlamaFamily;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraLayer;
import io.fedlora.aggregation.lora.LoraScaling;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The Llama network's hand-written backward against central finite differences in fp64: grouped-query attention
 * (two query heads per key/value head), q/k/v biases, an untied head, LoRA on all seven projections, and the base
 * weights' gradients (init-model pre-training). Shown to catch a 0.1% error in one entry, so it can fail. Gradient
 * checkpointing and a wider kernel pool must give the same gradients bit for bit.
 */
class LlamaGradientCheckTest {

    private static final double TOLERANCE = 1e-4;
    private static final double SCALE = 1.5;

    private static LlamaModel model;
    private static Map<String, LoraFactors> adapters;
    private static TokenBatch batch;

    @BeforeAll
    static void setUp() {
        NativeThreads.apply(1);
        LlamaFamily.Spec spec = new LlamaFamily.Spec("qwen2", 16, 24, 2, 4, 2, 4, 23, 16, 1e-6, 10000.0, false, true, false);
        model = LlamaModel.initialise(spec, 3).castTo(DataType.DOUBLE);
        SplittableRandom rng = new SplittableRandom(9);
        model.weights().forEach((k, w) -> {
            if (k.endsWith("norm.weight")) {
                w.addi(uniform(rng, 0.5, w.shape()).muli(0.4));
            } else {
                w.assign(uniform(rng, 0.5, w.shape()).muli(k.endsWith(".bias") ? 0.6 : 1.2));
            }
        });
        adapters = new LinkedHashMap<>();
        for (LoraLayer l : spec.loraLayers(List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
                2, new LoraScaling(3, 2, false))) {
            adapters.put(l.module(), new LoraFactors(uniform(rng, 0.5, 2, l.dIn()), uniform(rng, 0.5, l.dOut(), 2)));
        }
        batch = TokenBatch.of(List.of(new int[]{1, 5, 7, 3, 9, 2, 22}, new int[]{4, 4, 8, 19}), List.of(3, 1));
    }

    @Test
    void loraGradientsOnAllSevenProjectionsMatchFiniteDifferences() {
        LmNetwork net = model.network(adapters, SCALE);
        Gradients g = net.lossAndGradients(batch, GradientTarget.LORA);
        assertThat(g.grads()).hasSize(2 * adapters.size()).hasSize(28);
        assertThat(maxRelativeError(adapterParams(adapters), g.grads(), () -> net.loss(batch), 7)).isLessThanOrEqualTo(TOLERANCE);
        assertThat(g.loss()).isEqualTo(net.loss(batch), org.assertj.core.data.Offset.offset(1e-12));
    }

    @Test
    void baseGradientsMatchFiniteDifferences() {
        LmNetwork net = model.network(Map.of(), 0.0);
        Gradients g = net.lossAndGradients(batch, GradientTarget.BASE);
        assertThat(g.grads().keySet()).containsExactlyInAnyOrderElementsOf(model.weights().keySet());
        assertThat(maxRelativeError(model.weights(), g.grads(), () -> net.loss(batch), 17)).isLessThanOrEqualTo(TOLERANCE);
    }

    @Test
    void theCheckCatchesASmallError() {
        LmNetwork net = model.network(adapters, SCALE);
        Gradients g = net.lossAndGradients(batch, GradientTarget.LORA);
        String key = "model.layers.0.self_attn.k_proj.lora_A";
        g.grads().get(key).muli(1.001);
        assertThat(maxRelativeError(Map.of(key, adapters.get("model.layers.0.self_attn.k_proj").a()), g.grads(),
                () -> net.loss(batch), 1)).isGreaterThan(TOLERANCE);
    }

    @Test
    void checkpointingAndThePoolWidthRecomputeTheSameGradients() {
        for (GradientTarget target : List.of(GradientTarget.LORA, GradientTarget.BASE)) {
            Map<String, LoraFactors> a = target == GradientTarget.BASE ? Map.of() : adapters;
            Gradients kept = model.network(a, SCALE, Parallel.of(1), false).lossAndGradients(batch, target);
            Gradients recomputed = model.network(a, SCALE, Parallel.of(2).splittingEverything(), true).lossAndGradients(batch, target);
            assertThat(recomputed.loss()).as("%s loss", target).isEqualTo(kept.loss());
            assertThat(recomputed.grads().keySet()).as("%s", target).isEqualTo(kept.grads().keySet());
            kept.grads().forEach((k, g) -> assertThat(recomputed.grads().get(k)).as("%s %s", target, k).isEqualTo(g));
        }
    }

    @Test
    void ffaModeComputesOnlyB() {
        Gradients g = model.network(adapters, SCALE).lossAndGradients(batch, GradientTarget.LORA_B_ONLY);
        assertThat(g.grads().keySet()).allMatch(k -> k.endsWith(".lora_B")).hasSize(adapters.size());
        Gradients full = model.network(adapters, SCALE).lossAndGradients(batch, GradientTarget.LORA);
        g.grads().forEach((k, b) -> assertThat(b).as(k).isEqualTo(full.grads().get(k)));
    }

    @Test
    void paddingDoesNotLeakIntoRealPositions() {
        LmNetwork net = model.network(adapters, SCALE);
        INDArray padded = net.logits(TokenBatch.of(List.of(new int[]{1, 2, 3, 4, 5}, new int[]{7, 8, 9}), List.of(1, 1)));
        INDArray alone = net.logits(TokenBatch.of(List.of(new int[]{7, 8, 9}), List.of(1)));
        for (int t = 0; t < 2; t++) {
            assertThat(padded.getRow(4 + t).equalsWithEps(alone.getRow(t), 1e-10)).isTrue();
        }
    }
}
