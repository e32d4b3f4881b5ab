package io.fedlora.aggregation.safetensors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class SafetensorsTest {

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F64", "F16", "BF16"})
    void roundTripsEveryFloatDtype(DType dtype) throws IOException {
        // Values exactly representable in every dtype, so the round trip must be exact.
        INDArray m = Nd4j.create(new float[] {1f, -2f, 0.5f, 3.25f, 0f, -0.125f}, new long[] {2, 3}, 'c');
        INDArray v = Nd4j.create(new float[] {7f, 8f, -9f, 10f}, new long[] {4}, 'c');
        Map<String, INDArray> tensors = new LinkedHashMap<>();
        tensors.put("z.matrix", m);
        tensors.put("a.vector", v);
        Path file = dir.resolve("t.safetensors");
        SafetensorsWriter.write(file, tensors, Map.of("format", "pt"), dtype);
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            assertThat(r.tensors().keySet()).containsExactly("z.matrix", "a.vector");
            assertThat(r.metadata()).containsEntry("format", "pt");
            TensorInfo info = r.info("z.matrix");
            assertThat(info.dtype()).isEqualTo(dtype);
            assertThat(info.shape()).containsExactly(2, 3);
            assertThat(info.byteLength()).isEqualTo(6L * dtype.byteSize());
            INDArray back = r.readFloat("z.matrix");
            assertThat(back.dataType()).isEqualTo(DataType.FLOAT);
            assertThat(back.toFloatMatrix()).isDeepEqualTo(m.toFloatMatrix());
            assertThat(r.readFloat("a.vector").toFloatVector()).containsExactly(7f, 8f, -9f, 10f);
        }
        assertThat(Files.size(file) - 8).isGreaterThan(0);
        long headerLen = ByteBuffer.wrap(Files.readAllBytes(file), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertThat(headerLen % 8).isZero();
        try (var s = Files.list(dir)) {
            assertThat(s.toList()).containsExactly(file); // no temp file left behind
        }
    }

    @Test
    void narrowingRoundsOnWrite() throws IOException {
        INDArray x = Nd4j.create(new float[] {Float.intBitsToFloat(0x3F818000), 0.1f}, new long[] {2}, 'c');
        Path file = dir.resolve("r.safetensors");
        SafetensorsWriter.write(file, Map.of("x", x), Map.of(), DType.BF16);
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            ByteBuffer raw = r.readRaw("x");
            assertThat(raw.getShort(0) & 0xFFFF).isEqualTo(0x3F82);
            assertThat(r.readFloat("x").getFloat(1)).isEqualTo(HalfFloats.bf16ToFloat(HalfFloats.floatToBf16(0.1f)));
        }
        byte[] half = SafetensorsWriter.toBytes(x, DType.F16);
        assertThat(half).hasSize(4);
        assertThat(ByteBuffer.wrap(half).order(ByteOrder.LITTLE_ENDIAN).getShort(2) & 0xFFFF).isEqualTo(0x2E66);
    }

    @Test
    void wireHelpersRoundTripViewsAndTransposes() {
        INDArray base = Nd4j.rand(DataType.FLOAT, 5, 7);
        INDArray view = base.transpose(); // f-order view
        byte[] bytes = SafetensorsWriter.toBytes(view, DType.F32);
        INDArray back = SafetensorsWriter.fromBytes(ByteBuffer.wrap(bytes), DType.F32, new long[] {7, 5});
        assertThat(back.toFloatMatrix()).isDeepEqualTo(view.toFloatMatrix());
        assertThatThrownBy(() -> SafetensorsWriter.fromBytes(ByteBuffer.wrap(bytes), DType.F32, new long[] {7, 4}))
                .isInstanceOf(IllegalArgumentException.class);
        INDArray ints = Nd4j.createFromArray(1L, -2L, 3L);
        INDArray intsBack = SafetensorsWriter.fromBytes(ByteBuffer.wrap(SafetensorsWriter.toBytes(ints, DType.I64)),
                DType.I64, new long[] {3});
        assertThat(intsBack.toLongVector()).containsExactly(1L, -2L, 3L);
    }

    @Test
    void rawTensorsAreCopiedThroughWithTheirOwnDtypes() throws IOException {
        Path file = dir.resolve("mixed.safetensors");
        ByteBuffer u8 = ByteBuffer.wrap(new byte[] {1, 2, (byte) 255});
        SafetensorsWriter.write(file, List.of(
                TensorData.raw("mask", DType.U8, new long[] {3}, u8),
                TensorData.of("w", Nd4j.ones(DataType.FLOAT, 2, 2), DType.BF16)), Map.of());
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            assertThat(r.info("mask").dtype()).isEqualTo(DType.U8);
            assertThat(r.readRaw("mask").get(2)).isEqualTo((byte) 255);
            assertThat(r.info("w").dtype()).isEqualTo(DType.BF16);
            assertThatThrownBy(() -> r.readFloat("mask")).isInstanceOf(SafetensorsFormatException.class)
                    .hasMessageContaining("mask").hasMessageContaining(file.toString());
            assertThatThrownBy(() -> r.readFloat("nope")).hasMessageContaining("nope");
        }
    }

    // ---- corruptions: each is rejected naming the file and (where there is one) the tensor ----

    private Path rawFile(String name, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path file = dir.resolve(name);
        Files.write(file, b.array());
        return file;
    }

    private void assertRejected(Path file, String tensor, String fragment) {
        assertThatThrownBy(() -> SafetensorsReader.open(file).close())
                .isInstanceOf(SafetensorsFormatException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining(tensor == null ? "" : "'" + tensor + "'")
                .hasMessageContaining(fragment);
    }

    @Test
    void validFileParses() throws IOException {
        Path ok = rawFile("ok.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16);
        try (SafetensorsReader r = SafetensorsReader.open(ok)) {
            assertThat(r.readFloat("w").shape()).containsExactly(2, 2);
        }
    }

    @Test
    void truncatedData() throws IOException {
        assertRejected(rawFile("t.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 10),
                "w", "out of range");
    }

    @Test
    void truncatedHeaderAndTinyFile() throws IOException {
        Path tiny = dir.resolve("tiny.safetensors");
        Files.write(tiny, new byte[] {1, 2, 3});
        assertRejected(tiny, null, "shorter than");
        Path past = dir.resolve("past.safetensors");
        ByteBuffer b = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN).putLong(1000);
        Files.write(past, b.array());
        assertRejected(past, null, "past the end");
    }

    @Test
    void invalidJson() throws IOException {
        assertRejected(rawFile("j.safetensors", "{\"w\":{\"dtype\":\"F32\",", 0), null, "JSON");
        assertRejected(rawFile("a.safetensors", "[1,2]", 0), null, "not a JSON object");
    }

    @Test
    void overlappingOffsets() throws IOException {
        assertRejected(rawFile("o.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "b", "overlaps");
    }

    @Test
    void outOfRangeAndInvertedOffsets() throws IOException {
        assertRejected(rawFile("r.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,800]}}", 8),
                "a", "out of range");
        assertRejected(rawFile("n.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8),
                "a", "out of range");
        assertRejected(rawFile("g.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8),
                "a", "gap");
    }

    @Test
    void unknownDtype() throws IOException {
        assertRejected(rawFile("d.safetensors", "{\"a\":{\"dtype\":\"F8_E9\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2),
                "a", "unknown dtype");
    }

    @Test
    void shapeSizeMismatch() throws IOException {
        assertRejected(rawFile("s.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8),
                "a", "needs 12 bytes");
    }

    @Test
    void negativeDimension() throws IOException {
        assertRejected(rawFile("neg.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8),
                "a", "negative");
    }

    @Test
    void trailingBytesAndBadMetadata() throws IOException {
        assertRejected(rawFile("tr.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 12),
                null, "not covered");
        assertRejected(rawFile("m.safetensors", "{\"__metadata__\":{\"x\":1}}", 0), null, "__metadata__");
        assertRejected(rawFile("dup.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), null, "JSON");
    }
}
