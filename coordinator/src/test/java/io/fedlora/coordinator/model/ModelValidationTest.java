package io.fedlora.coordinator.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fedlora.aggregation.lora.WeightLayout;
import io.fedlora.coordinator.support.TinyGpt2;
import io.fedlora.coordinator.support.TinyLlama;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Registration and federation creation go through the inspector: a model the agents cannot compute exactly as HF does
 * is refused naming the config field (the REST layer turns this into a 400 with that field in the detail); Llama
 * modules resolve in the LINEAR layout, GPT-2's in CONV1D.
 */
class ModelValidationTest {

    private final BaseModelInspector inspector = new BaseModelInspector();

    @TempDir Path tmp;

    private void refused(Path dir, String configField) {
        assertThatThrownBy(() -> inspector.inspect("path", dir.toString(), List.of()))
                .isInstanceOfSatisfying(InvalidModelException.class, e -> {
                    assertThat(e.field()).isEqualTo("path");
                    assertThat(e.getMessage()).contains("'" + configField + "'");
                });
    }

    private Path gpt2With(String name, String extraConfig) throws Exception {
        Path dir = TinyGpt2.write(tmp.resolve(name), false);
        String cfg = Files.readString(dir.resolve("config.json"));
        Files.writeString(dir.resolve("config.json"), cfg.substring(0, cfg.lastIndexOf('}')) + "," + extraConfig + "}");
        return dir;
    }

    @Test
    void gpt2OptionsTheAgentsDoNotComputeAreRefusedNamingTheField() throws Exception {
        refused(gpt2With("inner", "\"n_inner\":64"), "n_inner");
        refused(gpt2With("act", "\"activation_function\":\"relu\""), "activation_function");
        refused(gpt2With("scale", "\"scale_attn_weights\":false"), "scale_attn_weights");
        refused(gpt2With("inv", "\"scale_attn_by_inverse_layer_idx\":true"), "scale_attn_by_inverse_layer_idx");
        refused(gpt2With("upcast", "\"reorder_and_upcast_attn\":true"), "reorder_and_upcast_attn");
        // untied head declared but missing from the checkpoint
        refused(gpt2With("untied", "\"tie_word_embeddings\":false"), "tie_word_embeddings");
        Path unknown = TinyGpt2.write(tmp.resolve("bert"), false);
        Files.writeString(unknown.resolve("config.json"), Files.readString(unknown.resolve("config.json"))
                .replace("\"gpt2\"", "\"bert\""));
        refused(unknown, "model_type");
        assertThat(inspector.inspect("path", TinyGpt2.write(tmp.resolve("ok"), true).toString(), List.of("c_attn"))
                .layers()).allMatch(l -> l.layout() == WeightLayout.CONV1D).hasSize(2);
    }

    @Test
    void llamaResolvesLinearLayersAndRefusesScaledRope() throws Exception {
        BaseModelDirectory d = inspector.inspect("baseModelPath", TinyLlama.write(tmp.resolve("llama")).toString(),
                List.of("k_proj", "down_proj"));
        assertThat(d.keyPrefix()).isEmpty();
        assertThat(d.layers()).extracting(l -> l.module() + ":" + l.dOut() + "x" + l.dIn() + ":" + l.layout())
                .containsExactly("model.layers.0.self_attn.k_proj:4x8:LINEAR", "model.layers.0.mlp.down_proj:8x12:LINEAR",
                        "model.layers.1.self_attn.k_proj:4x8:LINEAR", "model.layers.1.mlp.down_proj:8x12:LINEAR");
        assertThat(d.layers().get(0).baseShape()).containsExactly(4, 8);
        refused(TinyLlama.write(tmp.resolve("yarn"), TinyLlama.CONFIG.replace("\"rope_theta\":10000.0",
                "\"rope_theta\":10000.0,\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":4.0}")), "rope_scaling");
        assertThatThrownBy(() -> inspector.inspect("baseModelPath", tmp.resolve("llama").toString(), List.of("c_attn")))
                .isInstanceOfSatisfying(InvalidModelException.class, e -> assertThat(e.field()).isEqualTo("targetModules"));
    }
}
