package io.fedlora.agent.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.agent.daemon.NativeThreads;
import io.fedlora.aggregation.family.LlamaFamily;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraLayer;
import io.fedlora.aggregation.lora.LoraScaling;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The Llama network's hand-written backward against central finite differences in fp64: grouped-query attention
 * (two query heads per key/value head), q/k/v biases, an untied head, LoRA on all seven projections, and the base
 * weights' gradients (init-model pre-training). Shown to catch a 0.1% error in one entry, so it can fail.
 */
class LlamaGradientCheckTest {

    private static final double H = 1e-6;
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
                w.addi(random(rng, w.shape()).muli(0.4));
            } else {
                w.assign(random(rng, w.shape()).muli(k.endsWith(".bias") ? 0.6 : 1.2));
            }
        });
        adapters = new LinkedHashMap<>();
        for (LoraLayer l : spec.loraLayers(List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
                2, new LoraScaling(3, 2, false))) {
            adapters.put(l.module(), new LoraFactors(random(rng, 2, l.dIn()), random(rng, l.dOut(), 2)));
        }
        batch = TokenBatch.of(List.of(new int[]{1, 5, 7, 3, 9, 2, 22}, new int[]{4, 4, 8, 19}), List.of(3, 1));
    }

    private static INDArray random(SplittableRandom rng, long... shape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        double[] d = new double[(int) n];
        for (int i = 0; i < d.length; i++) {
            d[i] = rng.nextDouble(-0.5, 0.5);
        }
        return Nd4j.create(d, shape, 'c');
    }

    static double maxRelativeError(Map<String, INDArray> params, Map<String, INDArray> analytic, DoubleSupplier loss, int stride) {
        double worst = 0;
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            INDArray p = e.getValue();
            INDArray g = analytic.get(e.getKey());
            assertThat(g).as("gradient of %s", e.getKey()).isNotNull();
            for (long i = e.getKey().hashCode() & 3; i < p.length(); i += stride) {
                double orig = p.getDouble(i);
                p.putScalar(i, orig + H);
                double plus = loss.getAsDouble();
                p.putScalar(i, orig - H);
                double minus = loss.getAsDouble();
                p.putScalar(i, orig);
                double fd = (plus - minus) / (2 * H);
                double an = g.getDouble(i);
                worst = Math.max(worst, Math.abs(fd - an) / Math.max(1e-6, Math.max(Math.abs(fd), Math.abs(an))));
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
    void loraGradientsOnAllSevenProjectionsMatchFiniteDifferences() {
        LmNetwork net = model.network(adapters, SCALE);
        Gradients g = net.lossAndGradients(batch, GradientTarget.LORA);
        assertThat(g.grads()).hasSize(2 * adapters.size()).hasSize(28);
        assertThat(maxRelativeError(loraParams(), g.grads(), () -> net.loss(batch), 7)).isLessThanOrEqualTo(TOLERANCE);
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
    void paddingDoesNotLeakIntoRealPositions() {
        LmNetwork net = model.network(adapters, SCALE);
        INDArray padded = net.logits(TokenBatch.of(List.of(new int[]{1, 2, 3, 4, 5}, new int[]{7, 8, 9}), List.of(1, 1)));
        INDArray alone = net.logits(TokenBatch.of(List.of(new int[]{7, 8, 9}), List.of(1)));
        for (int t = 0; t < 2; t++) {
            assertThat(padded.getRow(4 + t).equalsWithEps(alone.getRow(t), 1e-10)).isTrue();
        }
    }
}
