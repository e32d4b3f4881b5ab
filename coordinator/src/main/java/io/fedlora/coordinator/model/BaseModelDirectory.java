package io.fedlora.coordinator.model;

import io.fedlora.aggregation.family.ModelSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * An HF model directory on the coordinator's disk, inspected: its weights files ({@code model.safetensors}, or the
 * shards its index names, in index order), auxiliary files sent to clients, the LoRA layers its target modules resolve
 * to, the key prefix its checkpoint uses and its validated family description.
 */
public record BaseModelDirectory(Path dir, List<Path> weights, Map<String, Path> auxFiles, List<LayerShape> layers,
        String keyPrefix, ModelSpec spec) {

    public BaseModelDirectory {
        weights = List.copyOf(weights);
    }

    /** Whether the weights are the shards of an index rather than one {@code model.safetensors}. */
    public boolean sharded() {
        return weights.size() != 1 || !weights.get(0).getFileName().toString().equals(
                io.fedlora.aggregation.family.Checkpoint.SINGLE_FILE);
    }
}
