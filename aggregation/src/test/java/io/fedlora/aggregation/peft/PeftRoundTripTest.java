package io.fedlora.aggregation.peft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraInit;
import io.fedlora.aggregation.lora.LoraLayer;
import io.fedlora.aggregation.lora.LoraScaling;
import io.fedlora.aggregation.lora.WeightLayout;
import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
import io.fedlora.aggregation.safetensors.TensorData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class PeftRoundTripTest {

    @TempDir
    Path dir;

    @Test
    void readsAHandWrittenPeftAdapter() throws IOException {
        Path adapter = dir.resolve("a");
        Files.createDirectories(adapter);
        Files.writeString(adapter.resolve("adapter_config.json"), """
                {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 2, "lora_alpha": 8, "target_modules": ["c_attn"],
                 "fan_in_fan_out": true, "use_rslora": false, "base_model_name_or_path": "gpt2", "bias": "none",
                 "rank_pattern": {}, "alpha_pattern": {}}""");
        Map<String, INDArray> t = new LinkedHashMap<>();
        t.put("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight", Nd4j.rand(DataType.FLOAT, 2, 6));
        t.put("base_model.model.transformer.h.0.attn.c_attn.lora_B.weight", Nd4j.rand(DataType.FLOAT, 18, 2));
        SafetensorsWriter.write(adapter.resolve("adapter_model.safetensors"), t, Map.of("format", "pt"), DType.BF16);

        PeftAdapter read = PeftAdapterReader.read(adapter);
        assertThat(read.transformerPrefix()).isTrue();
        assertThat(read.config().layout()).isEqualTo(WeightLayout.CONV1D);
        assertThat(read.config().scaling().scale()).isEqualTo(4.0);
        assertThat(read.factors()).containsOnlyKeys("h.0.attn.c_attn");
        LoraLayer layer = read.layers().get(0);
        assertThat(layer.dOut()).isEqualTo(18);
        assertThat(layer.dIn()).isEqualTo(6);
        assertThat(layer.baseShape()).containsExactly(6, 18);
    }

    @Test
    void exportThenReadBackAndFoldedBaseKeepsKeysAndDtypes() throws IOException {
        LoraLayer layer = new LoraLayer("h.0.attn.c_attn", 12, 4, 2, WeightLayout.CONV1D, new LoraScaling(4, 2, false));
        LoraFactors init = LoraInit.init(layer, 7);
        LoraFactors f = new LoraFactors(init.a(), Nd4j.rand(DataType.FLOAT, 12, 2));
        Path basePath = dir.resolve("base.safetensors");
        INDArray w = Nd4j.rand(DataType.FLOAT, 4, 12);
        SafetensorsWriter.write(basePath, List.of(
                TensorData.of("transformer.wte.weight", Nd4j.rand(DataType.FLOAT, 10, 4), DType.F16),
                TensorData.of("transformer.h.0.attn.c_attn.weight", w, DType.BF16),
                TensorData.raw("transformer.h.0.attn.bias", DType.U8, new long[] {2}, java.nio.ByteBuffer.wrap(new byte[] {1, 0}))),
                Map.of("format", "pt", "note", "kept"));
        PeftAdapterConfig cfg = new PeftAdapterConfig(2, 4, List.of("c_attn"), true, false, "tiny-gpt2");
        Path out = dir.resolve("out");
        INDArray folded = w.add(1.0f);
        try (SafetensorsReader base = SafetensorsReader.open(basePath)) {
            PeftExporter.exportAdapter(out, cfg, Map.of(layer.module(), f), true);
            PeftExporter.writeModel(out.resolve("model.safetensors"), base,
                    Map.of("transformer.h.0.attn.c_attn.weight", folded));
        }
        PeftAdapter back = PeftAdapterReader.read(out);
        assertThat(back.config()).isEqualTo(cfg);
        assertThat(back.transformerPrefix()).isTrue();
        assertThat(back.factors().get(layer.module()).a().toFloatMatrix()).isDeepEqualTo(f.a().toFloatMatrix());
        assertThat(back.factors().get(layer.module()).b().toFloatMatrix()).isDeepEqualTo(f.b().toFloatMatrix());

        JsonNode json = new ObjectMapper().readTree(out.resolve("adapter_config.json").toFile());
        assertThat(json.get("peft_type").asText()).isEqualTo("LORA");
        assertThat(json.get("task_type").asText()).isEqualTo("CAUSAL_LM");
        assertThat(json.get("bias").asText()).isEqualTo("none");
        assertThat(json.get("lora_alpha").asInt()).isEqualTo(4);
        assertThat(json.get("fan_in_fan_out").asBoolean()).isTrue();
        try (SafetensorsReader a = SafetensorsReader.open(out.resolve("adapter_model.safetensors"))) {
            assertThat(a.tensors().keySet()).containsExactly(
                    "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight",
                    "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight");
        }
        try (SafetensorsReader m = SafetensorsReader.open(out.resolve("model.safetensors"));
             SafetensorsReader base = SafetensorsReader.open(basePath)) {
            assertThat(m.tensors().keySet()).containsExactlyElementsOf(base.tensors().keySet());
            assertThat(m.metadata()).containsEntry("note", "kept");
            assertThat(m.info("transformer.h.0.attn.c_attn.weight").dtype()).isEqualTo(DType.BF16);
            assertThat(m.info("transformer.wte.weight").dtype()).isEqualTo(DType.F16);
            assertThat(m.readRaw("transformer.wte.weight")).isEqualTo(base.readRaw("transformer.wte.weight"));
            assertThat(m.readRaw("transformer.h.0.attn.bias")).isEqualTo(base.readRaw("transformer.h.0.attn.bias"));
            INDArray got = m.readFloat("transformer.h.0.attn.c_attn.weight");
            INDArray want = base.readFloat("transformer.h.0.attn.c_attn.weight").add(1.0f);
            assertThat(got.distance2(want) / want.norm2Number().doubleValue()).isLessThan(1e-2); // bf16 storage
            assertThat(got.distance2(base.readFloat("transformer.h.0.attn.c_attn.weight"))).isGreaterThan(1.0);
        }
    }

    @Test
    void rejectsAdaptersItCannotUse() throws IOException {
        Path a = dir.resolve("bad");
        Files.createDirectories(a);
        Files.writeString(a.resolve("adapter_config.json"), "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":4}");
        Map<String, INDArray> t = new LinkedHashMap<>();
        t.put("base_model.model.h.0.mlp.c_fc.lora_A.weight", Nd4j.rand(DataType.FLOAT, 2, 3));
        SafetensorsWriter.write(a.resolve("adapter_model.safetensors"), t, Map.of(), DType.F32);
        assertThatThrownBy(() -> PeftAdapterReader.read(a)).isInstanceOf(PeftFormatException.class)
                .hasMessageContaining("adapter_model.safetensors")
                .hasMessageContaining("base_model.model.h.0.mlp.c_fc.lora_B.weight");

        t.put("base_model.model.h.0.mlp.c_fc.lora_B.weight", Nd4j.rand(DataType.FLOAT, 5, 3));
        SafetensorsWriter.write(a.resolve("adapter_model.safetensors"), t, Map.of(), DType.F32);
        assertThatThrownBy(() -> PeftAdapterReader.read(a)).hasMessageContaining("lora_B.weight").hasMessageContaining("r=2");

        t.remove("base_model.model.h.0.mlp.c_fc.lora_B.weight");
        t.put("base_model.model.h.0.mlp.c_fc.bias", Nd4j.rand(DataType.FLOAT, 5));
        SafetensorsWriter.write(a.resolve("adapter_model.safetensors"), t, Map.of(), DType.F32);
        assertThatThrownBy(() -> PeftAdapterReader.read(a)).hasMessageContaining("c_fc.bias");

        Files.writeString(a.resolve("adapter_config.json"), "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":4,"
                + "\"rank_pattern\":{\"c_fc\":4}}");
        assertThatThrownBy(() -> PeftAdapterReader.read(a)).hasMessageContaining("rank_pattern")
                .hasMessageContaining("adapter_config.json");
        Files.writeString(a.resolve("adapter_config.json"), "{\"peft_type\":\"IA3\",\"r\":2,\"lora_alpha\":4}");
        assertThatThrownBy(() -> PeftAdapterReader.read(a)).hasMessageContaining("peft_type");
        assertThatThrownBy(() -> PeftAdapterReader.read(dir.resolve("nowhere"))).hasMessageContaining("adapter_config.json");
    }

    @Test
    void loraInitIsPeftsKaimingUniformAndDeterministic() {
        LoraLayer layer = new LoraLayer("h.3.attn.c_attn", 48, 400, 8, WeightLayout.CONV1D, new LoraScaling(16, 8, false));
        LoraFactors a = LoraInit.init(layer, 42);
        LoraFactors again = LoraInit.init(layer, 42);
        LoraFactors other = LoraInit.init(new LoraLayer("h.4.attn.c_attn", 48, 400, 8, WeightLayout.CONV1D,
                new LoraScaling(16, 8, false)), 42);
        assertThat(a.a().toFloatMatrix()).isDeepEqualTo(again.a().toFloatMatrix());
        assertThat(a.a().equalsWithEps(other.a(), 1e-9)).isFalse();
        assertThat(a.b().sumNumber().doubleValue()).isZero();
        assertThat(a.b().shape()).containsExactly(48, 8);
        double bound = 1 / Math.sqrt(400);
        assertThat(a.a().amaxNumber().doubleValue()).isLessThanOrEqualTo(bound).isGreaterThan(0.9 * bound);
        // uniform on [-b, b] has variance b^2/3
        double var = a.a().varNumber().doubleValue();
        assertThat(var).isBetween(0.85 * bound * bound / 3, 1.15 * bound * bound / 3);
    }
}
