package io.fedlora.coordinator.model;

import io.fedlora.aggregation.family.ModelSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * An HF model directory on the coordinator's disk, inspected: its weights file, auxiliary files sent
 * to clients, the LoRA layers its target modules resolve to, the key prefix its checkpoint uses and its
 * validated family description.
 */
public record BaseModelDirectory(Path dir, Path weights, Map<String, Path> auxFiles, List<LayerShape> layers,
        String keyPrefix, ModelSpec spec) {}
