package io.fedlora.agent.daemon.work;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fedlora.aggregation.family.LlamaFamily;
import io.fedlora.aggregation.lora.WeightLayout;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.TensorRole;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The layout an upload declares comes from the agent's own model family, and a task whose coordinator describes a
 * module in another layout is refused before any training: on a square {@code q_proj} nothing else would show it.
 */
class TrainingJobLayoutsTest {

    /** Hidden 16, 4 heads / 2 key-value heads: q_proj is 16 x 16, v_proj 8 x 16. */
    private static final LlamaFamily.Spec LLAMA =
            new LlamaFamily.Spec("llama", 16, 32, 1, 4, 2, 4, 50, 32, 1e-6, 10000.0, false, false, false);

    @Test
    void theAgentDeclaresItsFamilysLayoutWhenTheTaskNamesNone() {
        List<TensorMeta> expected = List.of(meta("model.layers.0.self_attn.q_proj", TensorRole.LORA_A,
                        io.fedlora.proto.v1.WeightLayout.WEIGHT_LAYOUT_UNSPECIFIED),
                meta("model.layers.0.self_attn.v_proj", TensorRole.LORA_B, io.fedlora.proto.v1.WeightLayout.WEIGHT_LAYOUT_LINEAR));
        assertThat(TrainingJob.layouts(expected, LLAMA)).containsOnlyKeys("model.layers.0.self_attn.q_proj",
                "model.layers.0.self_attn.v_proj").containsValues(WeightLayout.LINEAR).doesNotContainValue(WeightLayout.CONV1D);
    }

    @Test
    void aTaskThatSaysConv1dForALlamaProjectionIsRefused() {
        List<TensorMeta> expected = List.of(meta("model.layers.0.self_attn.q_proj", TensorRole.LORA_A,
                io.fedlora.proto.v1.WeightLayout.WEIGHT_LAYOUT_CONV1D));
        assertThatThrownBy(() -> TrainingJob.layouts(expected, LLAMA)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("stores model.layers.0.self_attn.q_proj as CONV1D but this agent's llama model stores it as LINEAR");
    }

    @Test
    void aModuleTheModelDoesNotAdaptIsRefused() {
        List<TensorMeta> expected = List.of(meta("h.0.attn.c_attn", TensorRole.LORA_A,
                io.fedlora.proto.v1.WeightLayout.WEIGHT_LAYOUT_CONV1D));
        assertThatThrownBy(() -> TrainingJob.layouts(expected, LLAMA)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("not an adaptable module of this llama model");
    }

    private static TensorMeta meta(String module, TensorRole role, io.fedlora.proto.v1.WeightLayout layout) {
        return TensorMeta.newBuilder().setName(module + (role == TensorRole.LORA_A ? ".lora_A" : ".lora_B")).setModule(module)
                .setRole(role).setLayout(layout).build();
    }
}
