package io.fedlora.it.support;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The tests' independent safetensors reader against a file laid out byte by byte here. */
class SafetensorsFileTest {

    @TempDir
    Path dir;

    @Test
    void readsF32AndF16TensorsAndMultipliesThem() throws Exception {
        String header = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                + "\"b\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[24,30]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.allocate(8 + h.length + 30).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(h.length).put(h);
        for (float v : new float[] {1, 2, 3, 4, 5, 6}) {
            buf.putFloat(v);
        }
        buf.putShort((short) 0x3c00).putShort((short) 0xc000).putShort((short) 0x3800); // 1.0, -2.0, 0.5
        Path file = dir.resolve("t.safetensors");
        Files.write(file, buf.array());

        Map<String, Matrix> tensors = SafetensorsFile.read(file);
        assertThat(tensors).containsOnlyKeys("a", "b");
        Matrix a = tensors.get("a");
        assertThat(a.shape()).isEqualTo("2x3");
        assertThat(a.get(1, 2)).isEqualTo(6.0);
        assertThat(tensors.get("b").values()).containsExactly(1.0, -2.0, 0.5);
        Matrix product = a.times(a.transpose());
        assertThat(product.values()).containsExactly(14, 32, 32, 77);
        assertThat(a.plus(a, -1).frobenius()).isZero();
    }
}
