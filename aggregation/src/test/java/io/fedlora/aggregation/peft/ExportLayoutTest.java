package io.fedlora.aggregation.peft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.WeightLayout;
import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
import io.fedlora.aggregation.safetensors.TensorData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Where each part of an export goes, and what base/ gets instead of a config.json. */
class ExportLayoutTest {

    @TempDir
    Path dir;

    private static final String KEY = "model.layers.0.self_attn.q_proj.weight";
    private static final String MODULE = "model.layers.0.self_attn.q_proj";

    @Test
    void mergedOnTopAdapterAndFoldedBaseBelow() throws IOException {
        Path basePath = dir.resolve("base.safetensors");
        INDArray w0 = Nd4j.rand(DataType.FLOAT, 6, 4);
        INDArray norm = Nd4j.rand(DataType.FLOAT, 4);
        SafetensorsWriter.write(basePath, List.of(TensorData.of(KEY, w0, DType.F32),
                TensorData.of("model.norm.weight", norm, DType.F32)), Map.of("format", "pt"));
        LoraFactors f = new LoraFactors(Nd4j.rand(DataType.FLOAT, 2, 4), Nd4j.rand(DataType.FLOAT, 6, 2));
        INDArray folded = w0.add(0.5f);
        Path out = dir.resolve("export");
        PeftAdapterConfig cfg = new PeftAdapterConfig(2, 4, List.of("q_proj"), false, false, null);
        try (SafetensorsReader base = SafetensorsReader.open(basePath)) {
            ExportLayout.writeWeights(out, cfg, Map.of(MODULE, f), "", Map.of(MODULE, KEY),
                    Map.of(MODULE, WeightLayout.LINEAR), 2.0, base, Map.of(KEY, folded));
        }
        assertThat(out.resolve("adapter_config.json")).doesNotExist();
        assertThat(PeftAdapterReader.read(ExportLayout.adapterDir(out)).config()).isEqualTo(cfg);
        try (SafetensorsReader merged = SafetensorsReader.open(ExportLayout.mergedModel(out));
             SafetensorsReader base = SafetensorsReader.open(ExportLayout.baseModel(out))) {
            assertThat(base.readFloat(KEY).equalsWithEps(folded, 0)).isTrue();
            INDArray want = folded.add(f.b().mmul(f.a()).mul(2.0));
            assertThat(merged.readFloat(KEY).equalsWithEps(want, 1e-6)).isTrue();
            assertThat(merged.readFloat("model.norm.weight").equalsWithEps(norm, 0)).isTrue();
        }
    }

    @Test
    void mergedWeightsOfLayersWithAndWithoutAFoldedWeightKeepTheirDtypes() throws IOException {
        String key2 = "model.layers.0.self_attn.v_proj.weight";
        String module2 = "model.layers.0.self_attn.v_proj";
        Path basePath = dir.resolve("base16.safetensors");
        INDArray w0 = Nd4j.rand(DataType.FLOAT, 6, 4);
        INDArray v0 = Nd4j.rand(DataType.FLOAT, 4, 6);
        SafetensorsWriter.write(basePath, List.of(TensorData.of(KEY, w0, DType.F32), TensorData.of(key2, v0, DType.F16)),
                Map.of("format", "pt"));
        LoraFactors f = new LoraFactors(Nd4j.rand(DataType.FLOAT, 2, 4), Nd4j.rand(DataType.FLOAT, 6, 2));
        // a conv1d-layout layer: W is [d_in, d_out], the product enters as (B·A)^T
        LoraFactors g = new LoraFactors(Nd4j.rand(DataType.FLOAT, 2, 4), Nd4j.rand(DataType.FLOAT, 6, 2));
        INDArray folded = w0.add(0.25f);
        Path out = dir.resolve("export16");
        PeftAdapterConfig cfg = new PeftAdapterConfig(2, 4, List.of("q_proj", "v_proj"), false, false, null);
        try (SafetensorsReader base = SafetensorsReader.open(basePath)) {
            PeftExporter.writeMerged(out.resolve("model.safetensors"), Map.of(MODULE, f, module2, g),
                    Map.of(MODULE, KEY, module2, key2), Map.of(MODULE, WeightLayout.LINEAR, module2, WeightLayout.CONV1D),
                    2.0, base, Map.of(KEY, folded));
        }
        try (SafetensorsReader merged = SafetensorsReader.open(out.resolve("model.safetensors"));
             SafetensorsReader base = SafetensorsReader.open(basePath)) {
            assertThat(merged.tensors().keySet()).containsExactly(KEY, key2);
            assertThat(merged.info(KEY).dtype()).isEqualTo(DType.F32);
            assertThat(merged.info(key2).dtype()).isEqualTo(DType.F16);
            assertThat(merged.readFloat(KEY).equalsWithEps(folded.add(f.b().mmul(f.a()).mul(2.0)), 1e-6)).isTrue();
            INDArray v = base.readFloat(key2).add(g.b().mmul(g.a()).transpose().mul(2.0));
            assertThat(merged.readFloat(key2).equalsWithEps(v, 1e-2)).isTrue();
        }
    }

    @Test
    void anAdapterNamingABaseIsRefused() throws IOException {
        Path basePath = dir.resolve("base.safetensors");
        SafetensorsWriter.write(basePath, List.of(TensorData.of(KEY, Nd4j.rand(DataType.FLOAT, 6, 4), DType.F32)),
                Map.of());
        PeftAdapterConfig cfg = new PeftAdapterConfig(2, 4, List.of("q_proj"), false, false, "meta-llama/original");
        try (SafetensorsReader base = SafetensorsReader.open(basePath)) {
            assertThatThrownBy(() -> ExportLayout.writeWeights(dir.resolve("x"), cfg, Map.of(), "", Map.of(), Map.of(),
                    1.0, base, Map.of())).hasMessageContaining("names no base").hasMessageContaining("meta-llama/original");
        }
    }

    @Test
    void baseGetsTheGenerationConfigButNoConfig() throws IOException {
        Path config = Files.writeString(dir.resolve("config.json"),
                "{\"model_type\":\"llama\",\"bos_token_id\":1,\"eos_token_id\":[2,3],\"pad_token_id\":null}");
        Path tokenizer = Files.writeString(dir.resolve("tokenizer.json"), "{}");
        Path out = Files.createDirectories(dir.resolve("export"));
        ExportLayout.writeModelFiles(out, Map.of("config.json", config, "tokenizer.json", tokenizer));
        assertThat(out.resolve("config.json")).hasSameTextualContentAs(config);
        assertThat(out.resolve("tokenizer.json")).exists();
        assertThat(out.resolve("base/config.json")).doesNotExist();
        assertThat(new ObjectMapper().readTree(out.resolve("base/generation_config.json").toFile()))
                .isEqualTo(new ObjectMapper().readTree("{\"bos_token_id\":1,\"eos_token_id\":[2,3]}"));

        Path own = Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\":7,\"do_sample\":true}");
        Path out2 = Files.createDirectories(dir.resolve("export2"));
        ExportLayout.writeModelFiles(out2, Map.of("config.json", config, "generation_config.json", own));
        assertThat(out2.resolve("base/generation_config.json")).hasSameTextualContentAs(own);
        assertThat(out2.resolve("generation_config.json")).hasSameTextualContentAs(own);
    }
}
