package io.fedlora.coordinator.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fedlora.aggregation.lora.WeightLayout;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.aggregation.safetensors.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.stereotype.Component;

/**
 * Reads an HF model directory ({@code config.json} + {@code model.safetensors}) and resolves target
 * module names such as {@code c_attn} to every matching layer ({@code h.N.attn.c_attn}). GPT-2
 * checkpoints store {@code Conv1D} weights as {@code d_in x d_out}; other models are {@code nn.Linear}.
 */
@Component
public class BaseModelInspector {

    /** Auxiliary files of a model directory that clients need besides the weights. */
    public static final List<String> AUX_FILES =
            List.of("config.json", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json",
                    "generation_config.json", "special_tokens_map.json");
    static final String PREFIX = "transformer.";

    private final ObjectMapper mapper;

    public BaseModelInspector(ObjectMapper mapper) {
        this.mapper = mapper;
    }

    public BaseModelDirectory inspect(String baseModelPath, List<String> targetModules) {
        return inspect("baseModelPath", baseModelPath, targetModules);
    }

    /** As {@link #inspect(String, List)}, naming {@code field} (the request field that gave the path) in errors. */
    public BaseModelDirectory inspect(String field, String baseModelPath, List<String> targetModules) {
        Path dir = Path.of(baseModelPath).toAbsolutePath().normalize();
        if (!Files.isDirectory(dir)) {
            throw new InvalidModelException(field, "no such directory on the coordinator: " + dir);
        }
        Path config = dir.resolve("config.json");
        Path weights = dir.resolve("model.safetensors");
        if (!Files.isRegularFile(config)) {
            throw new InvalidModelException(field, dir + " has no config.json");
        }
        if (!Files.isRegularFile(weights)) {
            throw new InvalidModelException(field, dir + " has no model.safetensors");
        }
        WeightLayout layout = layoutOf(field, config);
        Map<String, TensorInfo> tensors;
        try (SafetensorsReader reader = SafetensorsReader.open(weights)) {
            tensors = reader.tensors();
        } catch (IOException | RuntimeException e) {
            throw new InvalidModelException(field, "cannot read " + weights + ": " + e.getMessage());
        }
        String prefix = tensors.keySet().stream().allMatch(k -> k.startsWith(PREFIX)) && !tensors.isEmpty() ? PREFIX : "";
        List<LayerShape> layers = new ArrayList<>();
        for (String target : targetModules) {
            int before = layers.size();
            for (TensorInfo t : tensors.values()) {
                String key = t.name().substring(prefix.length());
                if (!key.endsWith(".weight") || t.shape().length != 2) {
                    continue;
                }
                String module = key.substring(0, key.length() - ".weight".length());
                if (module.equals(target) || module.endsWith("." + target)) {
                    if (!t.dtype().isFloatingPoint()) {
                        throw new InvalidModelException("targetModules", module + " has non-float dtype " + t.dtype());
                    }
                    long[] s = t.shape();
                    int dIn = (int) (layout == WeightLayout.CONV1D ? s[0] : s[1]);
                    int dOut = (int) (layout == WeightLayout.CONV1D ? s[1] : s[0]);
                    if (layers.stream().noneMatch(l -> l.module().equals(module))) {
                        layers.add(new LayerShape(module, dOut, dIn, layout));
                    }
                }
            }
            if (layers.size() == before) {
                throw new InvalidModelException("targetModules",
                        "'" + target + "' matches no 2-D weight in " + weights);
            }
        }
        Map<String, Path> aux = new LinkedHashMap<>();
        for (String name : AUX_FILES) {
            Path p = dir.resolve(name);
            if (Files.isRegularFile(p)) {
                aux.put(name, p);
            }
        }
        return new BaseModelDirectory(dir, weights, aux, List.copyOf(layers), prefix);
    }

    private WeightLayout layoutOf(String field, Path config) {
        try {
            JsonNode root = mapper.readTree(config.toFile());
            String type = root.path("model_type").asText("");
            boolean gpt2 = type.equals("gpt2");
            for (JsonNode a : root.path("architectures")) {
                gpt2 |= a.asText().startsWith("GPT2");
            }
            return gpt2 ? WeightLayout.CONV1D : WeightLayout.LINEAR;
        } catch (IOException e) {
            throw new InvalidModelException(field, "cannot parse " + config + ": " + e.getMessage());
        }
    }
}
