package io.fedlora.coordinator.support;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fedlora.aggregation.family.Checkpoint;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
import io.fedlora.aggregation.safetensors.TensorData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Splits a model directory's {@code model.safetensors} into {@code n} shards as {@code save_pretrained} does:
 * {@code model-0000i-of-0000n.safetensors} with consecutive runs of the tensors, and {@code model.safetensors.index.json}
 * ({@code metadata.total_size}, {@code weight_map}); the single file is removed. Tensor bytes are copied unchanged.
 */
public final class Shards {

    private Shards() {
    }

    public static List<String> split(Path dir, int n) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode index = json.createObjectNode();
        ObjectNode map = json.createObjectNode();
        List<String> names = new ArrayList<>();
        long total = 0;
        try (Checkpoint single = Checkpoint.open(dir)) {
            List<TensorData> all = single.rawTensors();
            int per = (all.size() + n - 1) / n;
            for (int s = 0; s < n; s++) {
                String name = String.format("model-%05d-of-%05d.safetensors", s + 1, n);
                List<TensorData> part = all.subList(Math.min(all.size(), s * per), Math.min(all.size(), (s + 1) * per));
                SafetensorsWriter.write(dir.resolve(name), part, single.singleFileMetadata());
                for (TensorData t : part) {
                    map.put(t.name(), name);
                    total += t.byteLength();
                }
                names.add(name);
            }
        }
        index.putObject("metadata").put("total_size", total);
        index.set("weight_map", map);
        Files.writeString(dir.resolve(Checkpoint.INDEX_FILE), json.writerWithDefaultPrettyPrinter().writeValueAsString(index));
        Files.delete(dir.resolve(Checkpoint.SINGLE_FILE));
        return names;
    }
}
