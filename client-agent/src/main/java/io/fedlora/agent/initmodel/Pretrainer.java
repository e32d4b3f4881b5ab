package io.fedlora.agent.initmodel;

import io.fedlora.agent.data.JsonlDataset;
import io.fedlora.agent.model.GradientTarget;
import io.fedlora.agent.model.CausalLm;
import io.fedlora.agent.model.LmNetwork;
import io.fedlora.agent.model.Gradients;
import io.fedlora.agent.model.StepWorkspace;
import io.fedlora.agent.train.AdamW;
import io.fedlora.agent.train.GradientClipping;
import org.nd4j.linalg.api.memory.MemoryWorkspace;

import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.IntConsumer;

/**
 * Full-weight training of a fresh model, used only by {@code init-model} to give the demo a base that knows the
 * task format. It is the same hand-written backward as LoRA training, run in {@link GradientTarget#BASE} mode so that
 * every weight (tied embedding included) gets its gradient; AdamW with linear warm-up and cosine decay.
 */
final class Pretrainer {

    /** Progress of pre-training: step, total steps and the step's loss. */
    interface Progress {
        void onStep(int step, int total, double loss);
    }

    private final int steps;
    private final int batchSize;
    private final double learningRate;
    private final double weightDecay;

    Pretrainer(int steps, int batchSize, double learningRate, double weightDecay) {
        this.steps = steps;
        this.batchSize = batchSize;
        this.learningRate = learningRate;
        this.weightDecay = weightDecay;
    }

    /** Trains the model's weights in place; returns the mean loss of the last tenth of the steps. */
    double train(CausalLm model, JsonlDataset corpus, long seed, Progress progress) {
        LmNetwork network = model.network(Map.of(), 0.0);
        AdamW optimiser = new AdamW(learningRate, weightDecay);
        SplittableRandom rng = new SplittableRandom(seed);
        int n = corpus.size();
        int warmup = Math.max(1, steps / 10);
        double tail = 0;
        int tailCount = 0;
        for (int step = 1; step <= steps; step++) {
            int[] idx = new int[Math.min(batchSize, n)];
            for (int i = 0; i < idx.length; i++) {
                idx[i] = rng.nextInt(n);
            }
            double lr = step <= warmup ? learningRate * step / warmup
                    : learningRate * (0.1 + 0.9 * 0.5 * (1 + StrictMath.cos(Math.PI * (step - warmup) / (steps - warmup))));
            double loss;
            try (MemoryWorkspace ws = StepWorkspace.open("fedlora-pretrain-step")) {
                Gradients g = network.lossAndGradients(corpus.batch(idx), GradientTarget.BASE);
                GradientClipping.clipGlobalNorm(g.grads().values(), 1.0);
                optimiser.step(model.weights(), g.grads(), lr);
                loss = g.loss();
            }
            if (step > steps - Math.max(1, steps / 10)) {
                tail += loss;
                tailCount++;
            }
            progress.onStep(step, steps, loss);
        }
        return tail / tailCount;
    }
}
