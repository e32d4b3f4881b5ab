package io.fedlora.aggregation.peft;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fedlora.aggregation.lora.LoraScaling;
import io.fedlora.aggregation.lora.WeightLayout;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The parts of PEFT's {@code adapter_config.json} that matter for a LoRA adapter on a causal LM. Per-module
 * rank or alpha patterns are not supported and are rejected on read rather than silently ignored.
 */
public record PeftAdapterConfig(int r, double loraAlpha, List<String> targetModules, boolean fanInFanOut,
                                boolean useRslora, String baseModelNameOrPath) {

    public static final String FILE_NAME = "adapter_config.json";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public PeftAdapterConfig {
        if (r <= 0) {
            throw new IllegalArgumentException("adapter rank r must be positive, got " + r);
        }
        targetModules = List.copyOf(targetModules);
    }

    public LoraScaling scaling() {
        return new LoraScaling(loraAlpha, r, useRslora);
    }

    /** PEFT's {@code fan_in_fan_out} means the base layer stores its weight transposed (HF {@code Conv1D}). */
    public WeightLayout layout() {
        return WeightLayout.fromFanInFanOut(fanInFanOut);
    }

    /** Reads and checks an {@code adapter_config.json}; problems name the file and the field. */
    public static PeftAdapterConfig read(Path file) throws IOException {
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new PeftFormatException(file, null, "not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw new PeftFormatException(file, null, "not a JSON object");
        }
        String type = root.path("peft_type").asText("LORA");
        if (!type.equalsIgnoreCase("LORA")) {
            throw new PeftFormatException(file, "peft_type", "only LORA adapters are supported, got " + type);
        }
        JsonNode r = root.get("r");
        if (r == null || !r.isIntegralNumber() || r.asInt() <= 0) {
            throw new PeftFormatException(file, "r", "missing or not a positive integer");
        }
        JsonNode alpha = root.get("lora_alpha");
        if (alpha == null || !alpha.isNumber()) {
            throw new PeftFormatException(file, "lora_alpha", "missing or not a number");
        }
        for (String pattern : List.of("rank_pattern", "alpha_pattern")) {
            JsonNode p = root.get(pattern);
            if (p != null && p.isObject() && p.size() > 0) {
                throw new PeftFormatException(file, pattern, "per-module patterns are not supported");
            }
        }
        List<String> targets = new ArrayList<>();
        JsonNode t = root.get("target_modules");
        if (t != null && t.isArray()) {
            t.forEach(x -> targets.add(x.asText()));
        } else if (t != null && t.isTextual()) {
            targets.add(t.asText());
        }
        targets.sort(null);
        return new PeftAdapterConfig(r.asInt(), alpha.asDouble(), targets, root.path("fan_in_fan_out").asBoolean(false),
                root.path("use_rslora").asBoolean(false), root.path("base_model_name_or_path").asText(null));
    }

    /** Writes a config PEFT's {@code PeftModel.from_pretrained} accepts. */
    public void write(Path file) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("peft_type", "LORA");
        root.put("task_type", "CAUSAL_LM");
        if (baseModelNameOrPath == null) {
            root.putNull("base_model_name_or_path");
        } else {
            root.put("base_model_name_or_path", baseModelNameOrPath);
        }
        root.put("r", r);
        if (loraAlpha == Math.rint(loraAlpha) && Math.abs(loraAlpha) < 1e9) {
            root.put("lora_alpha", (long) loraAlpha);
        } else {
            root.put("lora_alpha", loraAlpha);
        }
        root.put("lora_dropout", 0.0);
        var arr = root.putArray("target_modules");
        targetModules.forEach(arr::add);
        root.put("fan_in_fan_out", fanInFanOut);
        root.put("use_rslora", useRslora);
        root.put("bias", "none");
        root.put("inference_mode", true);
        root.put("init_lora_weights", true);
        root.putNull("modules_to_save");
        JSON.writeValue(file.toFile(), root);
    }
}
