package io.fedlora.agent.bench;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The default warm-up follows the step's FLOPs: many steps of a small model, few of a large one. */
class DefaultWarmupTest {

    @Test
    void warmUpCoversAFixedAmountOfWorkWithinTwoToTwentySteps() {
        // init-model at batch 8 x seq 64: about 2.4e8 FLOPs per step
        assertThat(TrainBenchmark.defaultWarmup(2.4e8)).isEqualTo(20);
        // GPT-2-small at batch 4 x seq 256: about 5e11 FLOPs per step (20 steps were ~80% of a run)
        assertThat(TrainBenchmark.defaultWarmup(5e11)).isEqualTo(2);
        assertThat(TrainBenchmark.defaultWarmup(1e10)).isEqualTo(10);
        assertThat(TrainBenchmark.defaultWarmup(3e10)).isEqualTo(4);
    }
}
