package io.fedlora.agent.train;

import io.fedlora.agent.data.Example;
import io.fedlora.agent.data.JsonlDataset;
import io.fedlora.agent.model.Gpt2Config;
import io.fedlora.agent.model.Gpt2Model;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.agent.daemon.NativeThreads;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LoraTrainerTest {

    @BeforeAll
    static void oneNativeThread() {
        // tiny ops gain nothing from OpenMP, and its barriers stall on a shared 2-core box
        NativeThreads.apply(1);
    }


    private static final Gpt2Config CONFIG = new Gpt2Config(1, 2, 16, 16, 257, 1e-5);
    private static final Gpt2Model BASE = base();
    private static final JsonlDataset DATA = dataset();

    /** A random base whose tied embedding is large enough for the logits to move (GPT-2's 0.02 init caps them). */
    private static Gpt2Model base() {
        Gpt2Model m = Gpt2Model.initialise(CONFIG, 9);
        m.weight("wte.weight").muli(25);
        return m;
    }

    private static float[] flat(INDArray x) {
        return x.dup('c').reshape(x.length()).toFloatVector();
    }

    /** "ab=" → "ba" style reversal of two letters, completion scored. */
    private static JsonlDataset dataset() {
        List<Example> out = new ArrayList<>();
        String letters = "abcdefgh";
        for (int i = 0; i < 8; i++) {
            char x = letters.charAt(i);
            char y = letters.charAt((i * 3 + 1) % 8);
            out.add(new Example(new int[]{x, y, '=', y, x, 256}, 3));
        }
        return JsonlDataset.of("reversal", out);
    }

    private static TrainingConfig config(boolean freezeA, long seed, int steps) {
        return new TrainingConfig(List.of("c_attn", "c_fc"), 4, 8, false, freezeA, 1, steps, 4, 1e-2, 0.01, 1.0, seed, 16);
    }

    @Test
    void lossGoesDownOnATinyDataset() {
        TrainingConfig cfg = config(false, 1, 40);
        LoraTrainer trainer = new LoraTrainer(BASE, cfg);
        List<Double> losses = new ArrayList<>();
        TrainingResult r = trainer.train(Map.of(), DATA, (step, total, loss, tps) -> losses.add(loss));
        assertThat(losses).hasSize(40);
        Evaluator eval = new Evaluator(8);
        EvalResult before = eval.evaluate(BASE, Map.of(), cfg.scaling(), DATA);
        EvalResult after = eval.evaluate(BASE, r.factors(), cfg.scaling(), DATA);
        assertThat(after.loss()).isLessThan(before.loss() * 0.7);
        assertThat(r.numExamples()).isEqualTo(8);
        assertThat(r.metrics()).containsKeys("train_loss", "train_seconds", "tokens", "tokens_per_second");
        assertThat(r.metrics().get("tokens")).isEqualTo(40 * 4 * 6.0);
        assertThat(r.factors()).containsOnlyKeys("h.0.attn.c_attn", "h.0.mlp.c_fc");
    }

    @Test
    void seededRunsAreReproducibleAndSeedsMatter() {
        TrainingResult a = new LoraTrainer(BASE, config(false, 3, 6)).train(Map.of(), DATA, TrainingListener.none());
        TrainingResult b = new LoraTrainer(BASE, config(false, 3, 6)).train(Map.of(), DATA, TrainingListener.none());
        TrainingResult c = new LoraTrainer(BASE, config(false, 4, 6)).train(Map.of(), DATA, TrainingListener.none());
        a.factors().forEach((m, f) -> {
            assertThat(flat(f.a())).as(m).containsExactly(flat(b.factors().get(m).a()));
            assertThat(flat(f.b())).as(m).containsExactly(flat(b.factors().get(m).b()));
        });
        assertThat(a.factors().get("h.0.attn.c_attn").b().equals(c.factors().get("h.0.attn.c_attn").b())).isFalse();
    }

    @Test
    void ffaKeepsABitIdenticalAndTrainsB() {
        TrainingResult first = new LoraTrainer(BASE, config(false, 5, 3)).train(Map.of(), DATA, TrainingListener.none());
        Map<String, LoraFactors> start = first.factors();
        Map<String, float[]> startA = new java.util.HashMap<>();
        Map<String, float[]> startB = new java.util.HashMap<>();
        start.forEach((m, f) -> {
            startA.put(m, flat(f.a()));
            startB.put(m, flat(f.b()));
        });
        TrainingResult r = new LoraTrainer(BASE, config(true, 5, 5)).train(start, DATA, TrainingListener.none());
        r.factors().forEach((m, f) -> {
            assertThat(flat(f.a())).as("A of %s", m).containsExactly(startA.get(m));
            assertThat(flat(f.b())).as("B of %s", m).isNotEqualTo(startB.get(m));
            // the caller's start factors are untouched
            assertThat(flat(start.get(m).b())).containsExactly(startB.get(m));
        });
    }

    @Test
    void baseWeightsStayFrozen() {
        Map<String, float[]> before = new java.util.HashMap<>();
        BASE.weights().forEach((k, w) -> before.put(k, flat(w)));
        new LoraTrainer(BASE, config(false, 6, 3)).train(Map.of(), DATA, TrainingListener.none());
        BASE.weights().forEach((k, w) -> assertThat(flat(w)).as(k).containsExactly(before.get(k)));
    }

    @Test
    void interruptionCancelsTraining() {
        Thread.currentThread().interrupt();
        try {
            assertThatThrownBy(() -> new LoraTrainer(BASE, config(false, 1, 5)).train(Map.of(), DATA, TrainingListener.none()))
                    .isInstanceOf(CancellationException.class)
                    .hasCauseInstanceOf(InterruptedException.class);
            assertThat(Thread.currentThread().isInterrupted()).isTrue();
        } finally {
            Thread.interrupted();
        }
    }

    @Test
    void rejectsStartFactorsOfTheWrongShapeOrModule() {
        INDArray a = org.nd4j.linalg.factory.Nd4j.zeros(4, 8);
        INDArray b = org.nd4j.linalg.factory.Nd4j.zeros(48, 4);
        LoraTrainer trainer = new LoraTrainer(BASE, config(false, 1, 1));
        assertThatThrownBy(() -> trainer.train(Map.of("h.0.attn.c_attn", new LoraFactors(a, b)), DATA, TrainingListener.none()))
                .hasMessageContaining("h.0.attn.c_attn");
        assertThatThrownBy(() -> trainer.train(Map.of("h.0.mlp.c_proj", new LoraFactors(a, b)), DATA, TrainingListener.none()))
                .hasMessageContaining("not a target module");
    }

    @Test
    void clippingBoundsTheGlobalNorm() {
        INDArray g1 = org.nd4j.linalg.factory.Nd4j.createFromArray(3f, 0f);
        INDArray g2 = org.nd4j.linalg.factory.Nd4j.createFromArray(0f, 4f);
        double before = GradientClipping.clipGlobalNorm(List.of(g1, g2), 1.0);
        assertThat(before).isEqualTo(5.0, org.assertj.core.data.Offset.offset(1e-6));
        assertThat(Math.hypot(g1.getDouble(0), g2.getDouble(1))).isEqualTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
    }

    @Test
    void adamWMatchesTheClosedFormFirstStep() {
        // step 1: m̂ = g, v̂ = g², update = lr·g/(|g|+eps) = lr·sign(g); decoupled decay p·(1 − lr·wd) first
        INDArray p = org.nd4j.linalg.factory.Nd4j.createFromArray(new double[][]{{1.0, -2.0}});
        INDArray g = org.nd4j.linalg.factory.Nd4j.createFromArray(new double[][]{{0.5, -0.25}});
        new AdamW(0.1, 0.5).step(Map.of("p", p), Map.of("p", g));
        assertThat(p.getDouble(0)).isCloseTo(1.0 * 0.95 - 0.1, org.assertj.core.data.Offset.offset(1e-6));
        assertThat(p.getDouble(1)).isCloseTo(-2.0 * 0.95 + 0.1, org.assertj.core.data.Offset.offset(1e-6));
    }

    @Test
    void adamWMatchesAScalarReferenceOverSeveralSteps() {
        // bias correction matters from step 2 on: compare with torch.optim.AdamW's update written out for one scalar
        double lr = 0.01;
        double wd = 0.1;
        double[] grads = {0.3, -1.2, 0.05, 2.0, -0.4};
        INDArray p = org.nd4j.linalg.factory.Nd4j.createFromArray(new double[][]{{0.7}});
        AdamW adam = new AdamW(lr, wd);
        double ref = 0.7;
        double m = 0;
        double v = 0;
        for (int t = 1; t <= grads.length; t++) {
            double g = grads[t - 1];
            adam.step(Map.of("p", p), Map.of("p", org.nd4j.linalg.factory.Nd4j.createFromArray(new double[][]{{g}})));
            ref *= 1 - lr * wd;
            m = 0.9 * m + 0.1 * g;
            v = 0.999 * v + 0.001 * g * g;
            double mHat = m / (1 - Math.pow(0.9, t));
            double vHat = v / (1 - Math.pow(0.999, t));
            ref -= lr * mHat / (Math.sqrt(vHat) + 1e-8);
            assertThat(p.getDouble(0)).as("step %d", t).isCloseTo(ref, org.assertj.core.data.Offset.offset(1e-9));
        }
    }

    @Test
    void trainingLossIsTheQuantityTheEvaluatorMeasures() {
        // non-zero B so the adapter (and its scale alpha/r) changes the loss; one full batch, loss taken before the step
        TrainingConfig cfg = new TrainingConfig(List.of("c_attn", "c_fc"), 4, 8, false, false, 1, 1, DATA.size(), 1e-2, 0.0,
                1.0, 11, 16);
        Map<String, LoraFactors> start = new LoraTrainer(BASE, config(false, 2, 5)).train(Map.of(), DATA, TrainingListener.none())
                .factors();
        List<Double> losses = new ArrayList<>();
        new LoraTrainer(BASE, cfg).train(start, DATA, (step, total, loss, tps) -> losses.add(loss));
        Evaluator eval = new Evaluator(3);
        double evaluated = eval.evaluate(BASE, start, cfg.scaling(), DATA).loss();
        assertThat(losses.get(0)).isCloseTo(evaluated, org.assertj.core.data.Offset.offset(1e-4));
        double unscaled = eval.evaluate(BASE, start, new io.fedlora.aggregation.lora.LoraScaling(4, 4, false), DATA).loss();
        assertThat(Math.abs(unscaled - evaluated)).as("the adapter's scale matters here").isGreaterThan(1e-3);
    }
}
