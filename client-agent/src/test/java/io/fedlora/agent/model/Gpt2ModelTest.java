package io.fedlora.agent.model;

import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class Gpt2ModelTest {

    private static final Gpt2Config CONFIG = new Gpt2Config(2, 2, 8, 16, 30, 1e-5);

    @TempDir
    Path dir;

    @Test
    void saveThenLoadGivesTheSameConfigAndWeights() {
        Gpt2Model model = Gpt2Model.initialise(CONFIG, 3);
        model.save(dir);
        assertThat(Files.exists(dir.resolve("config.json"))).isTrue();
        Gpt2Model loaded = Gpt2Model.load(dir);
        assertThat(loaded.config()).isEqualTo(CONFIG);
        assertThat(loaded.weights().keySet()).containsExactlyElementsOf(model.weights().keySet());
        model.weights().forEach((k, w) -> assertThat(loaded.weight(k)).as(k).isEqualTo(w));
    }

    @Test
    void readsHfCheckpointsWithPrefixBuffersAndTiedHead() throws IOException {
        Gpt2Model model = Gpt2Model.initialise(CONFIG, 4);
        Map<String, INDArray> hf = new LinkedHashMap<>();
        model.weights().forEach((k, w) -> hf.put("transformer." + k, w));
        hf.put("transformer.h.0.attn.bias", Nd4j.ones(1, 1, 16, 16));
        hf.put("transformer.h.1.attn.masked_bias", Nd4j.scalar(-1e4f).reshape(1));
        hf.put("lm_head.weight", model.weight("wte.weight"));
        CONFIG.write(dir.resolve("config.json"));
        SafetensorsWriter.write(dir.resolve("model.safetensors"), hf, Map.of("format", "pt"), DType.F16);
        Gpt2Model loaded = Gpt2Model.load(dir);
        assertThat(loaded.weights()).doesNotContainKey("h.0.attn.bias").hasSameSizeAs(model.weights());
        assertThat(loaded.weight("h.1.mlp.c_fc.weight").equalsWithEps(model.weight("h.1.mlp.c_fc.weight"), 1e-3)).isTrue();
    }

    @Test
    void rejectsWrongShapesAndMissingWeights() {
        Map<String, INDArray> w = new LinkedHashMap<>(Gpt2Model.initialise(CONFIG, 1).weights());
        w.put("h.0.attn.c_attn.weight", Nd4j.zeros(24, 8));
        assertThatThrownBy(() -> new Gpt2Model(CONFIG, w)).hasMessageContaining("h.0.attn.c_attn.weight").hasMessageContaining("[24, 8]");
        w.remove("h.0.attn.c_attn.weight");
        assertThatThrownBy(() -> new Gpt2Model(CONFIG, w)).hasMessageContaining("lack");
    }

    @Test
    void configRoundTripsThroughHfJson() throws IOException {
        Path f = dir.resolve("config.json");
        CONFIG.write(f);
        assertThat(Files.readString(f)).contains("\"model_type\" : \"gpt2\"").contains("\"n_embd\" : 8");
        assertThat(Gpt2Config.read(f)).isEqualTo(CONFIG);
        Files.writeString(f, "{\"model_type\":\"gpt2\",\"n_layer\":1,\"n_head\":2,\"n_embd\":8,\"n_ctx\":32,\"vocab_size\":50,\"other\":true}");
        assertThat(Gpt2Config.read(f)).isEqualTo(new Gpt2Config(1, 2, 8, 32, 50, 1e-5));
        Files.writeString(f, "{\"n_layer\":1,\"n_head\":2,\"n_embd\":8,\"n_ctx\":32,\"vocab_size\":50}");
        assertThatThrownBy(() -> Gpt2Config.read(f)).hasMessageContaining("model_type");
        assertThatThrownBy(() -> new Gpt2Config(1, 3, 8, 8, 8, 1e-5)).hasMessageContaining("divisible");
    }

    @Test
    void targetsResolveLikePeftSuffixes() {
        var scaling = new io.fedlora.aggregation.lora.LoraScaling(16, 4, false);
        assertThat(LoraTargets.resolve(CONFIG, java.util.List.of("c_proj"), 4, scaling))
                .extracting(io.fedlora.aggregation.lora.LoraLayer::module)
                .containsExactly("h.0.attn.c_proj", "h.0.mlp.c_proj", "h.1.attn.c_proj", "h.1.mlp.c_proj");
        var fc = LoraTargets.resolve(CONFIG, java.util.List.of("mlp.c_proj", "c_attn"), 4, scaling);
        assertThat(fc).extracting(l -> l.module() + ":" + l.dOut() + "x" + l.dIn())
                .containsExactly("h.0.attn.c_attn:24x8", "h.0.mlp.c_proj:8x32", "h.1.attn.c_attn:24x8", "h.1.mlp.c_proj:8x32");
        assertThatThrownBy(() -> LoraTargets.resolve(CONFIG, java.util.List.of("q_proj"), 4, scaling)).hasMessageContaining("q_proj");
    }
}
