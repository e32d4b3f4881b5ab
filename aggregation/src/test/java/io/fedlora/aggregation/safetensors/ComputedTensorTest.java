package io.fedlora.aggregation.safetensors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Tensors computed as the writer reaches them: each is made only then and freed once written, so a file of many
 * (a merged export) never holds more than one; what lands in the file is what was computed, in the header's dtype.
 */
class ComputedTensorTest {

    @TempDir
    Path dir;

    @Test
    void eachIsComputedInFileOrderAndClosedBeforeTheNextIsMade() throws IOException {
        INDArray first = Nd4j.rand(DataType.FLOAT, 3, 4);
        INDArray second = Nd4j.rand(DataType.FLOAT, 5);
        List<INDArray> made = new ArrayList<>();
        List<Boolean> previousClosedWhenNextMade = new ArrayList<>();
        Path file = dir.resolve("m.safetensors");
        SafetensorsWriter.write(file, List.of(
                TensorData.computed("a", DType.F32, new long[]{3, 4}, () -> {
                    INDArray a = first.dup();
                    made.add(a);
                    return a;
                }),
                TensorData.of("plain", Nd4j.ones(DataType.FLOAT, 2), DType.F32),
                TensorData.computed("b", DType.F16, new long[]{5}, () -> {
                    previousClosedWhenNextMade.add(made.get(0).wasClosed());
                    INDArray b = second.dup();
                    made.add(b);
                    return b;
                })), Map.of("format", "pt"));
        assertThat(previousClosedWhenNextMade).containsExactly(true);
        assertThat(made.get(1).wasClosed()).isTrue();
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            assertThat(r.tensors().keySet()).containsExactly("a", "plain", "b");
            assertThat(r.readFloat("a").equalsWithEps(first, 0)).isTrue();
            assertThat(r.info("b").dtype()).isEqualTo(DType.F16);
            assertThat(r.readFloat("b").equalsWithEps(second, 1e-3)).isTrue();
        }
    }

    @Test
    void aComputedShapeOtherThanTheHeadersFailsAndLeavesNoFile() {
        Path file = dir.resolve("bad.safetensors");
        assertThatThrownBy(() -> SafetensorsWriter.write(file, List.of(TensorData.computed("w", DType.F32,
                new long[]{2, 3}, () -> Nd4j.zeros(DataType.FLOAT, 3, 2))), Map.of()))
                .isInstanceOf(IOException.class).hasMessageContaining("'w'").hasMessageContaining("[3, 2]");
        assertThat(file).doesNotExist();
        assertThat(dir.toFile().list()).isEmpty();
    }
}
