package io.fedlora.coordinator.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
import io.fedlora.aggregation.safetensors.TensorData;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bundle entry's tensor is read from its blob exactly (its bytes, then end of stream) and without a memory
 * mapping: mappings outlive the download until a garbage collection, so a coordinator serving a 500 MB base model to
 * many clients grew its resident memory by the model's size per download.
 */
class TensorSliceTest {

    @TempDir
    Path tmp;

    @Test
    void aTensorIsStreamedExactlyAndWithoutMappingTheBlob() throws IOException {
        float[] a = new float[1000];
        float[] b = new float[777];
        for (int i = 0; i < a.length; i++) {
            a[i] = i * 0.5f;
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = -i;
        }
        Path blob = tmp.resolve("blob.safetensors");
        SafetensorsWriter.write(blob, List.of(TensorData.of("a", org.nd4j.linalg.factory.Nd4j.create(a), DType.F32),
                TensorData.of("b", org.nd4j.linalg.factory.Nd4j.create(b), DType.F32)), Map.of());

        BufferPoolMXBean mapped = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
                .filter(p -> p.getName().equals("mapped")).findFirst().orElseThrow();
        long before = mapped.getCount();
        for (int round = 0; round < 20; round++) {
            try (InputStream in = TensorSlice.tensor(blob, "b").open()) {
                byte[] bytes = in.readAllBytes();
                assertThat(bytes).hasSize(777 * 4);
                ByteBuffer le = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < b.length; i++) {
                    assertThat(le.getFloat()).isEqualTo(b[i]);
                }
                assertThat(in.read()).isEqualTo(-1);
            }
        }
        assertThat(mapped.getCount() - before).as("mapped buffers left by 20 reads").isLessThan(5);
        assertThatThrownBy(() -> TensorSlice.tensor(blob, "c").open()).isInstanceOf(IOException.class)
                .hasMessageContaining("cannot read tensor c");
    }
}
