package io.fedlora.aggregation.basemodel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
import io.fedlora.aggregation.safetensors.TensorData;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A local HF directory is accepted as the federation's base only where every entry of the version-0 manifest matches
 * by name (body prefix removed as the coordinator removes it), shape, dtype and sha256; an fp16 weight the federation
 * keeps in fp32 is compared converted. The first difference is named; a remembered digest is used only while the
 * file keeps its size and mtime.
 */
class LocalBaseModelTest {

    private static final String CONFIG = "{\"model_type\": \"gpt2\", \"n_embd\": 4, \"n_layer\": 1, \"n_head\": 2,"
            + " \"n_positions\": 8, \"vocab_size\": 6}";

    @TempDir
    Path dir;

    private float[] wte;
    private float[] cAttn;

    @BeforeEach
    void writeModel() throws IOException {
        wte = values(6 * 4, 0.1f);
        cAttn = values(4 * 12, 0.25f); // multiples of 1/4: exact in fp16
        List<TensorData> t = new ArrayList<>();
        t.add(TensorData.of("transformer.wte.weight", Nd4j.create(wte, new long[] {6, 4}, 'c'), DType.F32));
        t.add(TensorData.of("transformer.h.0.attn.c_attn.weight", Nd4j.create(cAttn, new long[] {4, 12}, 'c'), DType.F16));
        SafetensorsWriter.write(dir.resolve("model.safetensors"), t, Map.of("format", "pt"));
        Files.writeString(dir.resolve("config.json"), CONFIG);
    }

    /** The federation's manifest: wte as stored, c_attn (an adapted layer) in fp32, config.json. */
    private List<ExpectedEntry> manifest(float[] wteValues) {
        return List.of(
                new ExpectedEntry("wte.weight", false, DType.F32, new long[] {6, 4}, sha(f32(wteValues))),
                new ExpectedEntry("h.0.attn.c_attn.weight", false, DType.F32, new long[] {4, 12}, sha(f32(cAttn))),
                new ExpectedEntry("config.json", true, DType.U8, new long[] {CONFIG.length()},
                        sha(CONFIG.getBytes(StandardCharsets.UTF_8))));
    }

    @Test
    void aCopyOfTheFederationsBaseMatchesAndGivesTheBytesTheCoordinatorWouldSend() throws IOException {
        List<ExpectedEntry> expected = manifest(wte);
        try (LocalBaseModel local = LocalBaseModel.open(dir, BaseHashCache.inMemory())) {
            assertThat(local.firstDifference(expected)).isEmpty();
            for (ExpectedEntry e : expected) {
                assertThat(sha(local.bytes(e))).as(e.name()).isEqualTo(e.sha256());
            }
            assertThat(local.bytes(expected.get(1))).as("the fp16 weight converted to fp32").isEqualTo(f32(cAttn));
        }
    }

    @Test
    void oneDifferingTensorIsNamed() throws IOException {
        float[] other = wte.clone();
        other[5] += 1e-3f;
        try (LocalBaseModel local = LocalBaseModel.open(dir, BaseHashCache.inMemory())) {
            Optional<Difference> d = local.firstDifference(manifest(other));
            assertThat(d).isPresent();
            assertThat(d.get().name()).isEqualTo("wte.weight");
            assertThat(d.get().reason()).contains("sha256");
        }
    }

    @Test
    void aMissingFileOrTensorOrAnotherShapeIsNamed() throws IOException {
        List<ExpectedEntry> withVocab = new ArrayList<>(manifest(wte));
        withVocab.add(new ExpectedEntry("vocab.json", true, DType.U8, new long[] {2}, sha("{}".getBytes(StandardCharsets.UTF_8))));
        List<ExpectedEntry> withHead = new ArrayList<>(manifest(wte));
        withHead.add(0, new ExpectedEntry("lm_head.weight", false, DType.F32, new long[] {6, 4}, sha(f32(wte))));
        List<ExpectedEntry> reshaped = new ArrayList<>(manifest(wte));
        reshaped.set(0, new ExpectedEntry("wte.weight", false, DType.F32, new long[] {4, 6}, sha(f32(wte))));
        try (LocalBaseModel local = LocalBaseModel.open(dir, BaseHashCache.inMemory())) {
            assertThat(local.firstDifference(withVocab)).get().satisfies(d -> {
                assertThat(d.name()).isEqualTo("vocab.json");
                assertThat(d.reason()).contains("missing");
            });
            assertThat(local.firstDifference(withHead)).get().extracting(Difference::name).isEqualTo("lm_head.weight");
            assertThat(local.firstDifference(reshaped)).get().satisfies(d -> {
                assertThat(d.name()).isEqualTo("wte.weight");
                assertThat(d.reason()).contains("shape [6, 4]");
            });
        }
    }

    @Test
    void aRememberedDigestCountsOnlyWhileTheFileKeepsItsSizeAndMtime() throws IOException {
        Path store = dir.resolve("hashes").resolve("base-model-hashes.json");
        try (LocalBaseModel local = LocalBaseModel.open(dir, BaseHashCache.persistent(store))) {
            assertThat(local.firstDifference(manifest(wte))).isEmpty();
        }
        assertThat(store).exists();
        // same size, new content, new mtime: hashed again, the change is found
        Path weights = dir.resolve("model.safetensors");
        byte[] b = Files.readAllBytes(weights);
        b[b.length - 1] ^= 0x10;
        Files.write(weights, b);
        Files.setLastModifiedTime(weights, FileTime.fromMillis(System.currentTimeMillis() + 5_000));
        try (LocalBaseModel local = LocalBaseModel.open(dir, BaseHashCache.persistent(store))) {
            assertThat(local.firstDifference(manifest(wte))).get().extracting(Difference::name)
                    .isEqualTo("h.0.attn.c_attn.weight");
        }
    }

    @Test
    void bytesOfAFileChangedSinceTheCheckAreRefused() throws IOException {
        List<ExpectedEntry> expected = manifest(wte);
        try (LocalBaseModel local = LocalBaseModel.open(dir, BaseHashCache.inMemory())) {
            assertThat(local.firstDifference(expected)).isEmpty();
            Files.writeString(dir.resolve("config.json"), CONFIG + " ");
            assertThatThrownBy(() -> local.bytes(expected.get(2))).isInstanceOf(IOException.class).hasMessageContaining("changed");
        }
    }

    private static float[] values(int n, float step) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (i % 7 - 3) * step;
        }
        return v;
    }

    private static byte[] f32(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return b.array();
    }

    private static String sha(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
