package io.fedlora.coordinator.model;

import io.fedlora.aggregation.family.AdaptableModule;
import io.fedlora.aggregation.family.Checkpoint;
import io.fedlora.aggregation.family.ModelFamilies;
import io.fedlora.aggregation.family.ModelSpec;
import io.fedlora.aggregation.family.UnsupportedModelException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.stereotype.Component;

/**
 * Reads an HF model directory ({@code config.json} + {@code model.safetensors}), validates it with its model family
 * (the same code the agents load it with, so a model is accepted only if the agents compute it exactly as HF does)
 * and resolves target module names such as {@code c_attn} or {@code q_proj} to every matching layer, each with the
 * weight layout its family stores it in.
 */
@Component
public class BaseModelInspector {

    /** Auxiliary files of a model directory that clients need besides the weights. */
    public static final List<String> AUX_FILES =
            List.of("config.json", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json",
                    "generation_config.json", "special_tokens_map.json");

    public BaseModelDirectory inspect(String baseModelPath, List<String> targetModules) {
        return inspect("baseModelPath", baseModelPath, targetModules);
    }

    /** As {@link #inspect(String, List)}, naming {@code field} (the request field that gave the path) in errors. */
    public BaseModelDirectory inspect(String field, String baseModelPath, List<String> targetModules) {
        Path dir;
        try {
            dir = Path.of(baseModelPath).toAbsolutePath().normalize();
        } catch (java.nio.file.InvalidPathException e) {
            throw new InvalidModelException(field, "not a valid file system path");
        }
        if (!Files.isDirectory(dir)) {
            throw new InvalidModelException(field, "no such directory on the coordinator: " + dir);
        }
        if (!Files.isRegularFile(dir.resolve(ModelFamilies.CONFIG_FILE))) {
            throw new InvalidModelException(field, dir + " has no config.json");
        }
        Path weights = dir.resolve(Checkpoint.SINGLE_FILE);
        if (!Files.isRegularFile(weights)) {
            String more = Files.isRegularFile(dir.resolve(Checkpoint.INDEX_FILE))
                    ? " (sharded checkpoints are loaded by the agents' tools but the coordinator stores one weights file:"
                    + " merge the shards into model.safetensors first)" : "";
            throw new InvalidModelException(field, dir + " has no model.safetensors" + more);
        }
        ModelSpec spec;
        String prefix;
        try {
            spec = ModelFamilies.read(dir);
            try (Checkpoint checkpoint = Checkpoint.open(dir)) {
                prefix = checkpoint.checkAgainst(spec);
            }
        } catch (UnsupportedModelException e) {
            throw new InvalidModelException(field, dir + ": the agents cannot train this model exactly as HF computes it: "
                    + fieldDescription(e.field()) + " " + e.getMessage().substring(e.field().length() + 2));
        } catch (IOException | RuntimeException e) {
            throw new InvalidModelException(field, "cannot read " + weights + ": " + e.getMessage());
        }
        List<LayerShape> layers;
        try {
            layers = targetModules.isEmpty() ? List.of() : spec.resolveTargets(targetModules).stream()
                    .map(BaseModelInspector::shape).toList();
        } catch (UnsupportedModelException e) {
            throw new InvalidModelException(e.field(), e.getMessage().substring(e.field().length() + 2));
        }
        Map<String, Path> aux = new LinkedHashMap<>();
        for (String name : AUX_FILES) {
            Path p = dir.resolve(name);
            if (Files.isRegularFile(p)) {
                aux.put(name, p);
            }
        }
        return new BaseModelDirectory(dir, weights, aux, layers, prefix, spec);
    }

    private static LayerShape shape(AdaptableModule m) {
        return new LayerShape(m.name(), m.dOut(), m.dIn(), m.layout());
    }

    private static String fieldDescription(String field) {
        return field.endsWith(".weight") || field.endsWith(".bias") ? "weight '" + field + "'"
                : "config.json field '" + field + "'";
    }
}
