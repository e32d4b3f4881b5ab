package io.fedlora.agent.model;

import io.fedlora.aggregation.family.Checkpoint;
import io.fedlora.aggregation.family.ModelSpec;
import io.fedlora.aggregation.safetensors.TensorInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Reads the weights of an HF directory (single file or shards) that the family spec needs, checked against it
 * (shapes, no unknown tensors, an untied head present), as fp32 arrays keyed without the family's optional prefix.
 */
final class CheckpointLoader {

    private CheckpointLoader() {
    }

    static Map<String, INDArray> load(Path dir, ModelSpec spec) {
        Map<String, INDArray> weights = new LinkedHashMap<>();
        try (Checkpoint checkpoint = Checkpoint.open(dir)) {
            String prefix = checkpoint.checkAgainst(spec);
            Map<String, long[]> expected = spec.weightShapes();
            for (TensorInfo info : checkpoint.tensors().values()) {
                String key = Checkpoint.canonicalKey(info.name(), prefix);
                if (expected.containsKey(key)) {
                    weights.put(key, checkpoint.readFloat(info.name()).castTo(DataType.FLOAT));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the weights of " + dir + ": " + e.getMessage(), e);
        }
        Map<String, INDArray> ordered = new LinkedHashMap<>();
        spec.weightShapes().keySet().forEach(k -> ordered.put(k, weights.get(k)));
        return ordered;
    }
}
