package io.fedlora.agent.model;

import io.fedlora.agent.model.ops.Parallel;
import io.fedlora.agent.train.AdamW;
import io.fedlora.agent.train.GradientClipping;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraInit;
import io.fedlora.aggregation.lora.LoraLayer;
import io.fedlora.aggregation.lora.LoraScaling;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Training on the 2-thread pool is reproducible bit for bit: the same seed and thread count give the same losses and
 * adapter weights after several AdamW steps. The shape is init-model's (2 layers, 64 wide, batch 8 × seq 64), where
 * the default pool really splits the GEMMs, attention, GELU, layer norm and the LM-head softmax between threads (a
 * race in the pool's hand-over or a completion-order reduction would show here as differing bits). The data-parallel
 * network (a micro-batch per thread, even and uneven splits, sequences of different lengths and target counts) is
 * reproducible bit for bit too, and its training follows the one-thread full-batch training within rounding.
 */
class ThreadedTrainingDeterminismTest {

    private static final Gpt2Config CONFIG = new Gpt2Config(2, 4, 64, 64, 257, 1e-5);
    private static final int STEPS = 4;

    private record Run(List<Double> losses, Map<String, float[]> weights) {
    }

    /** How a run builds its network from the model and the adapters. */
    @FunctionalInterface
    private interface Networks {
        LmNetwork build(Gpt2Model model, Map<String, LoraFactors> factors);
    }

    private static Run train(Parallel par) {
        return train((model, factors) -> model.network(factors, 2.0, par, false), 8, false);
    }

    /** Data-parallel over the batch on {@code par} ({@link DataParallelNetwork}). */
    private static Run trainDataParallel(Parallel par, int batch) {
        return train((model, factors) -> DataParallelNetwork.of(model, factors, 2.0, par, false), batch, true);
    }

    /**
     * @param ragged sequences of different lengths (right-padded) and first targets, so that micro-batches differ in
     *               target count; else every sequence is 64 tokens, all targets
     */
    private static Run train(Networks networks, int batch, boolean ragged) {
        Gpt2Model model = Gpt2Model.initialise(CONFIG, 5);
        List<LoraLayer> layers = LoraTargets.resolve(model.spec(), List.of("c_attn", "c_fc"), 8, new LoraScaling(16, 8, false));
        Map<String, LoraFactors> factors = new LinkedHashMap<>();
        Map<String, INDArray> params = new LinkedHashMap<>();
        for (LoraLayer layer : layers) {
            LoraFactors init = LoraInit.init(layer, 11);
            // B starts at zero in PEFT's init; move it so that every adapter product contributes from step one
            float[] b = new float[(int) init.b().length()];
            for (int i = 0; i < b.length; i++) {
                b[i] = (float) (0.02 * Math.sin(i + layer.module().length()));
            }
            LoraFactors f = new LoraFactors(init.a().castTo(model.dataType()).dup('c'),
                    Nd4j.create(b, init.b().shape(), 'c').castTo(model.dataType()));
            factors.put(layer.module(), f);
            params.put(layer.module() + ".lora_A", f.a());
            params.put(layer.module() + ".lora_B", f.b());
        }
        LmNetwork net = networks.build(model, factors);
        AdamW adam = new AdamW(1e-2, 0.01);
        SplittableRandom rng = new SplittableRandom(17);
        List<Double> losses = new ArrayList<>();
        for (int step = 0; step < STEPS; step++) {
            List<int[]> seqs = new ArrayList<>();
            List<Integer> first = new ArrayList<>();
            for (int b = 0; b < batch; b++) {
                int[] ids = new int[ragged && b % 3 == 1 ? 40 : 65];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = rng.nextInt(CONFIG.vocabSize());
                }
                seqs.add(ids);
                first.add(ragged ? 1 + b % 4 : 1);
            }
            try (MemoryWorkspace ws = StepWorkspace.open("determinism-test")) {
                Gradients g = net.lossAndGradients(TokenBatch.of(seqs, first), GradientTarget.LORA);
                GradientClipping.clipGlobalNorm(g.grads().values(), 1.0);
                adam.step(params, g.grads());
                losses.add(g.loss());
            }
        }
        Map<String, float[]> weights = new LinkedHashMap<>();
        params.forEach((k, v) -> weights.put(k, v.dup('c').reshape(v.length()).toFloatVector()));
        return new Run(losses, weights);
    }

    @Test
    void twoThreadTrainingIsBitwiseReproducible() {
        Run a = train(Parallel.of(2));
        Run b = train(Parallel.of(2));
        assertThat(a.losses()).hasSize(STEPS).doesNotHaveDuplicates();
        assertThat(b.losses()).isEqualTo(a.losses());
        assertThat(b.weights().keySet()).isEqualTo(a.weights().keySet());
        a.weights().forEach((k, w) -> assertThat(b.weights().get(k)).as(k).isEqualTo(w));
    }

    @Test
    void theSplitGivesTheOneThreadResultWithinRounding() {
        Run one = train(Parallel.of(1));
        Run two = train(Parallel.of(2));
        for (int i = 0; i < STEPS; i++) {
            assertThat(two.losses().get(i)).isCloseTo(one.losses().get(i), org.assertj.core.data.Offset.offset(1e-5));
        }
    }

    @Test
    void dataParallelTrainingIsBitwiseReproducibleEvenAndUneven() {
        for (int batch : new int[]{8, 5}) {
            Run a = trainDataParallel(Parallel.of(2), batch);
            Run b = trainDataParallel(Parallel.of(2), batch);
            assertThat(a.losses()).as("batch %d", batch).hasSize(STEPS).doesNotHaveDuplicates();
            assertThat(b.losses()).as("batch %d", batch).isEqualTo(a.losses());
            a.weights().forEach((k, w) -> assertThat(b.weights().get(k)).as("batch %d %s", batch, k).isEqualTo(w));
        }
    }

    @Test
    void dataParallelTrainingGivesTheOneThreadResultWithinRounding() {
        for (int batch : new int[]{8, 5}) {
            Run one = train((model, factors) -> model.network(factors, 2.0, Parallel.of(1), false), batch, true);
            Run split = trainDataParallel(Parallel.of(2), batch);
            for (int i = 0; i < STEPS; i++) {
                assertThat(split.losses().get(i)).as("batch %d step %d", batch, i)
                        .isCloseTo(one.losses().get(i), org.assertj.core.data.Offset.offset(1e-5));
            }
            one.weights().forEach((k, w) -> {
                float[] s = split.weights().get(k);
                for (int i = 0; i < w.length; i++) {
                    assertThat(s[i]).as("batch %d %s[%d]", batch, k, i).isCloseTo(w[i], org.assertj.core.data.Offset.offset(1e-4f));
                }
            });
        }
    }
}
