package io.fedlora.coordinator.support;

import io.fedlora.aggregation.family.LlamaFamily;
import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Writes a tiny HF Llama directory: 2 layers, hidden 8, 2 query heads per key/value head, so {@code k_proj} is a
 * non-square 4 x 8 {@code nn.Linear} weight and the layout matters.
 */
public final class TinyLlama {

    public static final String CONFIG = """
            {"model_type":"llama","architectures":["LlamaForCausalLM"],"hidden_size":8,"intermediate_size":12,
             "num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"vocab_size":16,
             "max_position_embeddings":32,"rms_norm_eps":1e-6,"rope_theta":10000.0,"tie_word_embeddings":false,
             "hidden_act":"silu"}""";

    private TinyLlama() {
    }

    public static Path write(Path dir) throws IOException {
        return write(dir, CONFIG);
    }

    /** With a given config (its shapes must be those of {@link #CONFIG}'s or the config must be refused). */
    public static Path write(Path dir, String config) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), config);
        LlamaFamily.Spec spec = (LlamaFamily.Spec) io.fedlora.aggregation.family.ModelFamilies.spec(
                new com.fasterxml.jackson.databind.ObjectMapper().readTree(CONFIG));
        Nd4j.getRandom().setSeed(5);
        Map<String, INDArray> t = new LinkedHashMap<>();
        spec.weightShapes().forEach((k, s) -> t.put(k, Nd4j.randn(DataType.FLOAT, s).muli(0.2)));
        SafetensorsWriter.write(dir.resolve("model.safetensors"), t, Map.of("format", "pt"), DType.F32);
        return dir;
    }
}
