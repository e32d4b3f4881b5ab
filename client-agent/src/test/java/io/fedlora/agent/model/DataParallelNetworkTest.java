package io.fedlora.agent.model;

import io.fedlora.agent.daemon.NativeThreads;
import io.fedlora.agent.model.ops.Parallel;
import io.fedlora.aggregation.family.LlamaFamily;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraLayer;
import io.fedlora.aggregation.lora.LoraScaling;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static io.fedlora.agent.model.ops.FiniteDifferences.uniform;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The data-parallel network on a 2-thread pool against the plain network on one thread over the whole batch, on
 * both families: the micro-batches' gradients, combined by target-token share, are the full batch's (to fp64
 * rounding in fp64, to fp32 tolerance in fp32), also with an uneven split (5 sequences on 2 threads) whose halves have
 * different target counts (so a wrong weighting shows), a micro-batch without any target, checkpointing, base-weight
 * gradients and the forward passes; a batch with fewer sequences than threads takes the plain intra-op path.
 */
class DataParallelNetworkTest {

    private static final double SCALE = 1.5;

    /** Five sequences of different lengths and first targets: the 2 + 3 split has 8 and 6 targets. */
    private static final TokenBatch FIVE = TokenBatch.of(List.of(new int[]{1, 5, 7, 3, 9, 2, 22}, new int[]{4, 4, 8, 19},
            new int[]{3, 14, 15, 9}, new int[]{2, 6, 5, 3, 5, 8}, new int[]{7, 1}), List.of(2, 1, 3, 4, 1));

    private static Gpt2Model gpt2;
    private static Map<String, LoraFactors> gpt2Adapters;
    private static LlamaModel llama;
    private static Map<String, LoraFactors> llamaAdapters;

    @BeforeAll
    static void setUp() {
        NativeThreads.apply(1);
        Gpt2Config config = new Gpt2Config(2, 2, 16, 12, 23, 1e-5);
        gpt2 = Gpt2Model.initialise(config, 11).castTo(DataType.DOUBLE);
        gpt2.weights().forEach((k, w) -> {
            if (!k.contains("ln_")) {
                w.muli(20);
            }
        });
        SplittableRandom rng = new SplittableRandom(5);
        gpt2Adapters = new LinkedHashMap<>();
        for (LoraLayer l : LoraTargets.resolve(config, List.of("c_attn", "c_proj", "c_fc"), 2, new LoraScaling(3, 2, false))) {
            gpt2Adapters.put(l.module(), new LoraFactors(uniform(rng, 0.5, 2, l.dIn()), uniform(rng, 0.5, l.dOut(), 2)));
        }
        LlamaFamily.Spec spec = new LlamaFamily.Spec("qwen2", 16, 24, 2, 4, 2, 4, 23, 16, 1e-6, 10000.0, false, true, false);
        llama = LlamaModel.initialise(spec, 3).castTo(DataType.DOUBLE);
        llama.weights().forEach((k, w) -> w.assign(uniform(rng, 0.5, w.shape()).muli(k.endsWith(".bias") ? 0.6 : 1.2)));
        llamaAdapters = new LinkedHashMap<>();
        for (LoraLayer l : spec.loraLayers(List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),
                2, new LoraScaling(3, 2, false))) {
            llamaAdapters.put(l.module(), new LoraFactors(uniform(rng, 0.5, 2, l.dIn()), uniform(rng, 0.5, l.dOut(), 2)));
        }
    }

    @Test
    void theSplitsGradientsAreTheFullBatchsInFp64OnBothFamilies() {
        for (TokenBatch batch : List.of(FIVE, FIVE.sequences(0, 4))) {
            for (boolean checkpointing : List.of(false, true)) {
                String as = batch.batchSize() + " sequences, checkpointing " + checkpointing;
                assertSameGradients(gpt2, gpt2Adapters, batch, GradientTarget.LORA, checkpointing, 1e-10, "gpt2 " + as);
                assertSameGradients(llama, llamaAdapters, batch, GradientTarget.LORA, checkpointing, 1e-10, "llama " + as);
            }
        }
        assertSameGradients(gpt2, gpt2Adapters, FIVE, GradientTarget.LORA_B_ONLY, false, 1e-10, "gpt2 FFA");
        assertSameGradients(llama, Map.of(), FIVE, GradientTarget.BASE, false, 1e-10, "llama base weights");
    }

    @Test
    void theSplitsGradientsAreTheFullBatchsInFp32OnBothFamilies() {
        assertSameGradients(gpt2.castTo(DataType.FLOAT), toFloat(gpt2Adapters), FIVE, GradientTarget.LORA, false, 2e-5, "gpt2 fp32");
        assertSameGradients(llama.castTo(DataType.FLOAT), toFloat(llamaAdapters), FIVE, GradientTarget.LORA, false, 2e-5, "llama fp32");
    }

    @Test
    void aMicroBatchWithoutTargetsAddsNothing() {
        // the last three sequences predict nothing (their first target lies past their end)
        TokenBatch batch = TokenBatch.of(List.of(new int[]{1, 5, 7, 3}, new int[]{4, 4, 8, 19}, new int[]{3, 14}, new int[]{2, 6},
                new int[]{7, 1}), List.of(1, 2, 9, 9, 9));
        assertSameGradients(gpt2, gpt2Adapters, batch, GradientTarget.LORA, false, 1e-10, "targets in one micro-batch only");
        TokenBatch none = TokenBatch.of(List.of(new int[]{1, 5}, new int[]{4, 4}), List.of(9, 9));
        LmNetwork net = DataParallelNetwork.of(gpt2, gpt2Adapters, SCALE, Parallel.of(2), false);
        assertThatThrownBy(() -> net.lossAndGradients(none, GradientTarget.LORA)).hasMessageContaining("no target tokens");
    }

    @Test
    void forwardPassesAreTheFullBatchs() {
        LmNetwork one = gpt2.network(gpt2Adapters, SCALE, Parallel.of(1), false);
        LmNetwork split = DataParallelNetwork.of(gpt2, gpt2Adapters, SCALE, Parallel.of(2), false);
        assertThat(split.loss(FIVE)).isCloseTo(one.loss(FIVE), org.assertj.core.data.Offset.offset(1e-12));
        INDArray expected = one.logits(FIVE);
        INDArray logits = split.logits(FIVE);
        assertThat(logits.shape()).isEqualTo(expected.shape());
        assertThat(maxAbsDiff(logits, expected)).isLessThanOrEqualTo(1e-12 * maxAbs(expected));
    }

    @Test
    void aBatchSmallerThanThePoolTakesTheIntraOpPath() {
        TokenBatch single = FIVE.sequences(0, 1);
        Gradients expected = gpt2.network(gpt2Adapters, SCALE, Parallel.of(2), false).lossAndGradients(single, GradientTarget.LORA);
        Gradients g = DataParallelNetwork.of(gpt2, gpt2Adapters, SCALE, Parallel.of(2), false).lossAndGradients(single, GradientTarget.LORA);
        assertThat(g.loss()).isEqualTo(expected.loss());
        assertThat(g.grads().keySet()).containsExactlyElementsOf(expected.grads().keySet());
        expected.grads().forEach((k, e) -> assertThat(g.grads().get(k)).as(k).isEqualTo(e));
    }

    @Test
    void oneThreadIsThePlainNetwork() {
        assertThat(DataParallelNetwork.of(gpt2, gpt2Adapters, SCALE, Parallel.of(1), false)).isInstanceOf(Gpt2Network.class);
    }

    private static void assertSameGradients(CausalLm model, Map<String, LoraFactors> adapters, TokenBatch batch, GradientTarget target,
                                            boolean checkpointing, double tolerance, String as) {
        try (MemoryWorkspace ws = StepWorkspace.open("data-parallel-test")) {
            Gradients full = model.network(adapters, SCALE, Parallel.of(1), false).lossAndGradients(batch, target);
            Gradients split = DataParallelNetwork.of(model, adapters, SCALE, Parallel.of(2), checkpointing).lossAndGradients(batch, target);
            assertThat(split.targetTokens()).as(as).isEqualTo(full.targetTokens());
            assertThat(split.loss()).as(as + " loss").isCloseTo(full.loss(), org.assertj.core.data.Offset.offset(tolerance * Math.abs(full.loss())));
            assertThat(split.grads().keySet()).as(as).containsExactlyElementsOf(full.grads().keySet());
            full.grads().forEach((k, g) -> {
                assertThat(split.grads().get(k).shape()).as(as + " " + k).isEqualTo(g.shape());
                assertThat(split.grads().get(k).dataType()).as(as + " " + k).isEqualTo(g.dataType());
                assertThat(maxAbsDiff(split.grads().get(k), g)).as(as + " " + k).isLessThanOrEqualTo(tolerance * maxAbs(g));
            });
        }
    }

    private static Map<String, LoraFactors> toFloat(Map<String, LoraFactors> adapters) {
        Map<String, LoraFactors> f = new LinkedHashMap<>();
        adapters.forEach((k, a) -> f.put(k, new LoraFactors(a.a().castTo(DataType.FLOAT).dup('c'), a.b().castTo(DataType.FLOAT).dup('c'))));
        return f;
    }

    private static double maxAbs(INDArray a) {
        return a.castTo(DataType.DOUBLE).amaxNumber().doubleValue();
    }

    private static double maxAbsDiff(INDArray a, INDArray b) {
        return a.castTo(DataType.DOUBLE).sub(b.castTo(DataType.DOUBLE)).amaxNumber().doubleValue();
    }
}
