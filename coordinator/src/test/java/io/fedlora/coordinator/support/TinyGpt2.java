package io.fedlora.coordinator.support;

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
 * Writes a tiny HF GPT-2 model directory (config.json + model.safetensors, optional "transformer."
 * prefix): 2 blocks, embedding 8, so {@code c_attn} is a non-square 8 x 24 Conv1D weight.
 */
public final class TinyGpt2 {

    public static final int EMBD = 8;
    public static final int VOCAB = 16;
    public static final int LAYERS = 2;

    private TinyGpt2() {
    }

    public static Path write(Path dir, boolean transformerPrefix) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), """
                {"model_type":"gpt2","architectures":["GPT2LMHeadModel"],"n_layer":%d,"n_head":2,"n_embd":%d,
                 "n_positions":32,"vocab_size":%d,"layer_norm_epsilon":1e-5}""".formatted(LAYERS, EMBD, VOCAB));
        Files.writeString(dir.resolve("vocab.json"), "{\"a\":0}");
        String p = transformerPrefix ? "transformer." : "";
        Nd4j.getRandom().setSeed(7);
        Map<String, INDArray> t = new LinkedHashMap<>();
        t.put(p + "wte.weight", rand(VOCAB, EMBD));
        t.put(p + "wpe.weight", rand(32, EMBD));
        for (int i = 0; i < LAYERS; i++) {
            String h = p + "h." + i + ".";
            t.put(h + "ln_1.weight", Nd4j.ones(DataType.FLOAT, EMBD));
            t.put(h + "ln_1.bias", Nd4j.zeros(DataType.FLOAT, EMBD));
            t.put(h + "attn.c_attn.weight", rand(EMBD, 3 * EMBD));
            t.put(h + "attn.c_attn.bias", Nd4j.zeros(DataType.FLOAT, 3 * EMBD));
            t.put(h + "attn.c_proj.weight", rand(EMBD, EMBD));
            t.put(h + "attn.c_proj.bias", Nd4j.zeros(DataType.FLOAT, EMBD));
            t.put(h + "ln_2.weight", Nd4j.ones(DataType.FLOAT, EMBD));
            t.put(h + "ln_2.bias", Nd4j.zeros(DataType.FLOAT, EMBD));
            t.put(h + "mlp.c_fc.weight", rand(EMBD, 4 * EMBD));
            t.put(h + "mlp.c_fc.bias", Nd4j.zeros(DataType.FLOAT, 4 * EMBD));
            t.put(h + "mlp.c_proj.weight", rand(4 * EMBD, EMBD));
            t.put(h + "mlp.c_proj.bias", Nd4j.zeros(DataType.FLOAT, EMBD));
        }
        t.put(p + "ln_f.weight", Nd4j.ones(DataType.FLOAT, EMBD));
        t.put(p + "ln_f.bias", Nd4j.zeros(DataType.FLOAT, EMBD));
        SafetensorsWriter.write(dir.resolve("model.safetensors"), t, Map.of("format", "pt"), DType.F32);
        return dir;
    }

    private static INDArray rand(int rows, int cols) {
        return Nd4j.randn(DataType.FLOAT, rows, cols).muli(0.2);
    }
}
