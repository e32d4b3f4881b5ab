package io.fedlora.coordinator.support;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A model directory with GPT-2 small's exact shapes (12 layers, 768 wide, 50257 tokens: 124,439,808 parameters,
 * 498 MB of fp32) and random weights, written as a stream in about a second: for tests of large transfers.
 */
public final class Gpt2SmallShape {

    public static final int LAYERS = 12;
    public static final int EMBD = 768;
    public static final int VOCAB = 50257;
    public static final int POSITIONS = 1024;

    private Gpt2SmallShape() {
    }

    /** The tensors in checkpoint order with their shapes. */
    public static Map<String, long[]> shapes() {
        Map<String, long[]> t = new LinkedHashMap<>();
        t.put("wte.weight", new long[] {VOCAB, EMBD});
        t.put("wpe.weight", new long[] {POSITIONS, EMBD});
        for (int i = 0; i < LAYERS; i++) {
            String h = "h." + i + ".";
            t.put(h + "ln_1.weight", new long[] {EMBD});
            t.put(h + "ln_1.bias", new long[] {EMBD});
            t.put(h + "attn.c_attn.weight", new long[] {EMBD, 3 * EMBD});
            t.put(h + "attn.c_attn.bias", new long[] {3 * EMBD});
            t.put(h + "attn.c_proj.weight", new long[] {EMBD, EMBD});
            t.put(h + "attn.c_proj.bias", new long[] {EMBD});
            t.put(h + "ln_2.weight", new long[] {EMBD});
            t.put(h + "ln_2.bias", new long[] {EMBD});
            t.put(h + "mlp.c_fc.weight", new long[] {EMBD, 4 * EMBD});
            t.put(h + "mlp.c_fc.bias", new long[] {4 * EMBD});
            t.put(h + "mlp.c_proj.weight", new long[] {4 * EMBD, EMBD});
            t.put(h + "mlp.c_proj.bias", new long[] {EMBD});
        }
        t.put("ln_f.weight", new long[] {EMBD});
        t.put("ln_f.bias", new long[] {EMBD});
        return t;
    }

    public static long parameters() {
        return shapes().values().stream().mapToLong(s -> s.length == 1 ? s[0] : s[0] * s[1]).sum();
    }

    public static Path write(Path dir, long seed) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), """
                {"model_type":"gpt2","architectures":["GPT2LMHeadModel"],"n_layer":%d,"n_head":12,"n_embd":%d,
                 "n_positions":%d,"n_ctx":%d,"vocab_size":%d,"layer_norm_epsilon":1e-5}"""
                .formatted(LAYERS, EMBD, POSITIONS, POSITIONS, VOCAB));
        Files.writeString(dir.resolve("vocab.json"), "{\"a\":0}");
        Map<String, long[]> shapes = shapes();
        StringBuilder header = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long offset = 0;
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long n = e.getValue().length == 1 ? e.getValue()[0] : e.getValue()[0] * e.getValue()[1];
            header.append(",\"").append(e.getKey()).append("\":{\"dtype\":\"F32\",\"shape\":")
                    .append(java.util.Arrays.toString(e.getValue()).replace(" ", "")).append(",\"data_offsets\":[")
                    .append(offset).append(',').append(offset + 4 * n).append("]}");
            offset += 4 * n;
        }
        header.append('}');
        while ((header.length() + 8) % 8 != 0) {
            header.append(' ');
        }
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(dir.resolve("model.safetensors")), 1 << 20)) {
            out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(json.length).array());
            out.write(json);
            ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
            long x = seed | 1;
            for (long i = 0; i < offset / 4; i++) {
                x ^= x << 13;
                x ^= x >>> 7;
                x ^= x << 17;
                // uniform in [-0.05, 0.05): the scale of GPT-2's initialisation
                buf.putFloat((float) (((x >>> 40) / (double) (1L << 24) - 0.5) * 0.1));
                if (!buf.hasRemaining()) {
                    out.write(buf.array());
                    buf.clear();
                }
            }
            out.write(buf.array(), 0, buf.position());
        }
        return dir;
    }
}
