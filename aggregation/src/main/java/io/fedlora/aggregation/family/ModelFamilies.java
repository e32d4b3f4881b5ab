package io.fedlora.aggregation.family;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Chooses the model family by {@code config.json}'s {@code model_type} and validates the config with it. The
 * coordinator (registration, federation creation, export) and the agents (loading) call the same code, so a model
 * is accepted by one exactly when the other can compute it.
 */
public final class ModelFamilies {

    public static final String CONFIG_FILE = "config.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private ModelFamilies() {
    }

    /** Validates a parsed {@code config.json}. */
    public static ModelSpec spec(JsonNode root) {
        if (root == null || !root.isObject()) {
            throw new UnsupportedModelException("config.json", "not a JSON object");
        }
        JsonNode typeNode = root.get("model_type");
        if (typeNode == null || !typeNode.isTextual()) {
            throw new UnsupportedModelException("model_type", "missing; supported: gpt2, " + String.join(", ",
                    LlamaFamily.MODEL_TYPES.stream().sorted().toList()));
        }
        String type = typeNode.asText();
        if (type.equals(Gpt2Family.NAME)) {
            return Gpt2Family.parse(root);
        }
        if (LlamaFamily.MODEL_TYPES.contains(type)) {
            return LlamaFamily.parse(type, root);
        }
        throw new UnsupportedModelException("model_type", "'" + type + "' is not supported; supported: gpt2, "
                + String.join(", ", LlamaFamily.MODEL_TYPES.stream().sorted().toList()));
    }

    /** Reads and validates {@code dir/config.json}. */
    public static ModelSpec read(Path modelDir) {
        Path file = modelDir.resolve(CONFIG_FILE);
        if (!Files.isRegularFile(file)) {
            throw new UnsupportedModelException("config.json", "no config.json in " + modelDir);
        }
        return readFile(file);
    }

    /** Reads and validates a {@code config.json} file (wherever it is stored, e.g. as a blob). */
    public static ModelSpec readFile(Path file) {
        try {
            return spec(JSON.readTree(file.toFile()));
        } catch (IOException e) {
            throw new UnsupportedModelException("config.json", "cannot parse " + file + ": " + e.getMessage());
        }
    }
}
