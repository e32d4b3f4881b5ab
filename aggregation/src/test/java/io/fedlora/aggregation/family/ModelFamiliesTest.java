package io.fedlora.aggregation.family;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fedlora.aggregation.lora.WeightLayout;
import java.util.List;
import org.junit.jupiter.api.Test;

class ModelFamiliesTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static ObjectNode gpt2() {
        ObjectNode n = JSON.createObjectNode();
        n.put("model_type", "gpt2").put("n_layer", 2).put("n_head", 2).put("n_embd", 8).put("n_positions", 16)
                .put("vocab_size", 20);
        return n;
    }

    private static ObjectNode llama(String type) {
        ObjectNode n = JSON.createObjectNode();
        n.put("model_type", type).put("hidden_size", 16).put("intermediate_size", 24).put("num_hidden_layers", 2)
                .put("num_attention_heads", 4).put("num_key_value_heads", 2).put("vocab_size", 30)
                .put("max_position_embeddings", 32).put("rms_norm_eps", 1e-6).put("rope_theta", 500000.0);
        return n;
    }

    private static void refused(ObjectNode config, String field) {
        assertThatThrownBy(() -> ModelFamilies.spec(config)).isInstanceOfSatisfying(UnsupportedModelException.class,
                e -> assertThat(e.field()).isEqualTo(field));
    }

    @Test
    void gpt2OptionsThatChangeTheForwardPassAreRefusedNamingTheField() {
        assertThat(ModelFamilies.spec(gpt2())).isInstanceOf(Gpt2Family.Spec.class);
        refused(gpt2().put("n_inner", 64), "n_inner");
        assertThat(ModelFamilies.spec(gpt2().put("n_inner", 32)).family()).isEqualTo("gpt2");
        refused(gpt2().put("activation_function", "gelu"), "activation_function");
        refused(gpt2().put("scale_attn_weights", false), "scale_attn_weights");
        refused(gpt2().put("scale_attn_by_inverse_layer_idx", true), "scale_attn_by_inverse_layer_idx");
        refused(gpt2().put("reorder_and_upcast_attn", true), "reorder_and_upcast_attn");
        refused(gpt2().put("n_embd", -1), "n_embd");
        refused(gpt2().put("model_type", "bert"), "model_type");
        refused(JSON.createObjectNode().put("n_layer", 1), "model_type");
    }

    @Test
    void untiedGpt2NeedsItsHead() {
        ModelSpec tied = ModelFamilies.spec(gpt2());
        ModelSpec untied = ModelFamilies.spec(gpt2().put("tie_word_embeddings", false));
        assertThat(tied.weightShapes()).doesNotContainKey("lm_head.weight");
        assertThat(untied.weightShapes()).containsKey("lm_head.weight");
        assertThat(tied.isIgnoredTensor("lm_head.weight")).isTrue();
        assertThat(untied.isIgnoredTensor("lm_head.weight")).isFalse();
    }

    @Test
    void llamaModulesAreLinearWithGroupedKeyValueHeads() {
        LlamaFamily.Spec s = (LlamaFamily.Spec) ModelFamilies.spec(llama("llama"));
        assertThat(s.headDim()).isEqualTo(4);
        assertThat(s.groupSize()).isEqualTo(2);
        assertThat(s.ropeTheta()).isEqualTo(500000.0);
        assertThat(s.tiedEmbeddings()).isFalse();
        assertThat(s.weightShapes().get("model.layers.1.self_attn.k_proj.weight")).containsExactly(8, 16);
        assertThat(s.weightShapes()).containsKey("lm_head.weight").doesNotContainKey("model.layers.0.self_attn.q_proj.bias");
        List<AdaptableModule> kv = s.resolveTargets(List.of("k_proj", "down_proj"));
        assertThat(kv).extracting(m -> m.name() + ":" + m.dOut() + "x" + m.dIn() + ":" + m.layout())
                .containsExactly("model.layers.0.self_attn.k_proj:8x16:LINEAR", "model.layers.0.mlp.down_proj:16x24:LINEAR",
                        "model.layers.1.self_attn.k_proj:8x16:LINEAR", "model.layers.1.mlp.down_proj:16x24:LINEAR");
        assertThat(kv).allMatch(m -> m.layout() == WeightLayout.LINEAR);
        assertThat(s.layerOf("model.layers.1.mlp.up_proj")).isEqualTo(1);
        assertThat(s.peftModulePrefix()).isEmpty();
        assertThatThrownBy(() -> s.resolveTargets(List.of("c_attn"))).isInstanceOfSatisfying(UnsupportedModelException.class,
                e -> assertThat(e.field()).isEqualTo("targetModules"));
    }

    @Test
    void qwen2HasQkvBiasesAndLlamaOptionsAreChecked() {
        ModelSpec q = ModelFamilies.spec(llama("qwen2"));
        assertThat(q.weightShapes()).containsKey("model.layers.0.self_attn.v_proj.bias")
                .doesNotContainKey("model.layers.0.self_attn.o_proj.bias");
        refused(llama("qwen2").put("use_sliding_window", true), "use_sliding_window");
        refused(llama("llama").put("hidden_act", "gelu"), "hidden_act");
        refused(llama("llama").put("mlp_bias", true), "mlp_bias");
        ObjectNode scaled = llama("llama");
        scaled.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 8.0);
        refused(scaled, "rope_scaling");
        ObjectNode v5 = llama("llama");
        v5.remove("rope_theta");
        v5.putObject("rope_parameters").put("rope_type", "default").put("rope_theta", 1e6);
        assertThat(((LlamaFamily.Spec) ModelFamilies.spec(v5)).ropeTheta()).isEqualTo(1e6);
        refused(llama("llama").put("num_key_value_heads", 3), "num_key_value_heads");
        assertThat(ModelFamilies.spec(llama("mistral").put("sliding_window", 8)).maxPositions()).isEqualTo(8);
    }
}
