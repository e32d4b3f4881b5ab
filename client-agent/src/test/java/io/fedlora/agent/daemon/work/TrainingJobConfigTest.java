package io.fedlora.agent.daemon.work;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.agent.train.TrainingConfig;
import io.fedlora.proto.v1.TrainingPlan;
import org.junit.jupiter.api.Test;

class TrainingJobConfigTest {

    private static final TrainingPlan PLAN = TrainingPlan.newBuilder().addTargetModules("c_attn").setRank(4).setAlpha(8)
            .setStrategy("fedex").setLocalEpochs(1).setBatchSize(8).setLearningRate(1e-3).setMaxGradNorm(1.0)
            .setSeed(42).setMaxSeqLen(64).build();

    @Test
    void dataOrderSeedChangesFromRoundToRoundAndStaysFixedWithinOne() {
        TrainingConfig r1 = TrainingJob.config(PLAN, "client-a", 1);
        assertThat(TrainingJob.config(PLAN, "client-a", 1).seed()).isEqualTo(r1.seed());
        assertThat(TrainingJob.config(PLAN, "client-a", 2).seed()).isNotEqualTo(r1.seed());
        assertThat(TrainingJob.config(PLAN, "client-b", 1).seed()).isNotEqualTo(r1.seed());
        assertThat(r1.freezeA()).isFalse();
        assertThat(TrainingJob.config(PLAN.toBuilder().setStrategy("ffa").build(), "client-a", 1).freezeA()).isTrue();
    }
}
