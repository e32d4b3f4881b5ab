package io.fedlora.aggregation.safetensors;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.aggregation.peft.PeftExporter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Copying and hashing tensors without memory-mapping them: a mapping stays resident (and in the process's RSS)
 * until a garbage collection unmaps it, which on a coordinator exporting or hashing a 500 MB base added the model's
 * size to its resident memory each time.
 */
class UnmappedReadsTest {

    @TempDir
    Path dir;

    private Path model() throws IOException {
        Map<String, INDArray> t = new LinkedHashMap<>();
        t.put("wte", Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, 300, 64));
        t.put("h.0.attn.c_attn.weight", Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, 64, 192));
        t.put("ln_f.bias", Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, 64));
        Path file = dir.resolve("base.safetensors");
        SafetensorsWriter.write(file, t, Map.of("format", "pt"), DType.F16);
        return file;
    }

    private static long mappedBuffers() {
        return ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
                .filter(b -> b.getName().equals("mapped")).mapToLong(BufferPoolMXBean::getCount).sum();
    }

    @Test
    void writeModelCopiesUnchangedTensorsByteForByteWithoutMapping() throws IOException {
        Path base = model();
        Path out = dir.resolve("out.safetensors");
        INDArray replaced = Nd4j.ones(org.nd4j.linalg.api.buffer.DataType.FLOAT, 64, 192);
        long before = mappedBuffers();
        try (SafetensorsReader r = SafetensorsReader.open(base)) {
            PeftExporter.writeModel(out, r, Map.of("h.0.attn.c_attn.weight", replaced));
        }
        assertThat(mappedBuffers()).as("mapped buffers left by the copy").isEqualTo(before);
        try (SafetensorsReader in = SafetensorsReader.open(base); SafetensorsReader copy = SafetensorsReader.open(out)) {
            assertThat(copy.tensors().keySet()).containsExactlyElementsOf(in.tensors().keySet());
            for (String name : List.of("wte", "ln_f.bias")) {
                assertThat(bytes(copy, name)).as(name).isEqualTo(bytes(in, name));
                assertThat(copy.info(name).dtype()).isEqualTo(DType.F16);
            }
            assertThat(copy.readFloat("h.0.attn.c_attn.weight").toFloatMatrix()).isDeepEqualTo(replaced.toFloatMatrix());
        }
    }

    @Test
    void readChunksHandsOverEveryByteInOrderWithoutMapping() throws IOException {
        Path base = model();
        try (SafetensorsReader r = SafetensorsReader.open(base)) {
            long before = mappedBuffers();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            int[] calls = {0};
            r.readChunks("wte", 1000, b -> {
                assertThat(b.remaining()).isLessThanOrEqualTo(1000);
                byte[] a = new byte[b.remaining()];
                b.get(a);
                got.writeBytes(a);
                calls[0]++;
            });
            assertThat(mappedBuffers()).isEqualTo(before);
            assertThat(calls[0]).isEqualTo((300 * 64 * 2 + 999) / 1000);
            assertThat(got.toByteArray()).isEqualTo(bytes(r, "wte"));
        }
    }

    @Test
    void readFloatAndReadDecodeWithoutMappingAcrossChunksInEveryDtype() throws IOException {
        // 600 x 512 fp32 is 1.2 MB: more than one 1 MiB read, and a last read that is not full
        INDArray big = Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, 600, 512).subi(0.5);
        INDArray ids = Nd4j.createFromArray(new long[] {1, -2, 3_000_000_000L, 4});
        Path file = dir.resolve("dtypes.safetensors");
        SafetensorsWriter.write(file, List.of(TensorData.of("f32", big, DType.F32), TensorData.of("f16", big, DType.F16),
                TensorData.of("bf16", big, DType.BF16), TensorData.of("f64", big, DType.F64),
                TensorData.of("ids", ids, DType.I64), TensorData.of("empty", Nd4j.create(
                        org.nd4j.linalg.api.buffer.DataType.FLOAT, 0, 3), DType.F32)), Map.of());
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            long before = mappedBuffers();
            Map<String, INDArray> got = new LinkedHashMap<>();
            for (String name : List.of("f32", "f16", "bf16", "f64", "empty")) {
                got.put(name, r.readFloat(name));
            }
            INDArray readIds = r.read("ids");
            assertThat(mappedBuffers()).as("mapped buffers left by readFloat/read").isEqualTo(before);
            for (String name : List.of("f32", "f16", "bf16", "f64", "empty")) {
                INDArray mapped = TensorCodec.decode(r.readRaw(name), r.info(name).dtype(), r.info(name).shape());
                assertThat(got.get(name).shape()).as(name).isEqualTo(r.info(name).shape());
                assertThat(got.get(name).equalsWithEps(mapped, 0)).as(name + " equals the mapped decode").isTrue();
            }
            assertThat(got.get("f32").equalsWithEps(big, 0)).isTrue();
            assertThat(readIds.toLongVector()).containsExactly(1, -2, 3_000_000_000L, 4);
        }
    }

    /** A tensor's bytes as the file holds them, read independently of the reader. */
    private static byte[] bytes(SafetensorsReader r, String name) throws IOException {
        byte[] all = Files.readAllBytes(r.file());
        int start = (int) r.dataOffset(name);
        return java.util.Arrays.copyOfRange(all, start, start + (int) r.info(name).byteLength());
    }
}
