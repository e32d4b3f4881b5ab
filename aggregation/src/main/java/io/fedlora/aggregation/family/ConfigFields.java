package io.fedlora.aggregation.family;

import com.fasterxml.jackson.databind.JsonNode;

/** Typed reads of {@code config.json} fields whose failures name the field. */
final class ConfigFields {

    private final JsonNode root;

    ConfigFields(JsonNode root) {
        this.root = root;
    }

    boolean present(String field) {
        JsonNode n = root.get(field);
        return n != null && !n.isNull();
    }

    JsonNode node(String field) {
        return root.get(field);
    }

    int positiveInt(String field) {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) {
            throw new UnsupportedModelException(field, "missing");
        }
        if (!n.isIntegralNumber() || !n.canConvertToInt() || n.asInt() <= 0) {
            throw new UnsupportedModelException(field, "must be a positive integer, got " + n);
        }
        return n.asInt();
    }

    int positiveInt(String field, int fallback) {
        return present(field) ? positiveInt(field) : fallback;
    }

    double positiveDouble(String field, double fallback) {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) {
            return fallback;
        }
        if (!n.isNumber() || !(n.asDouble() > 0) || Double.isInfinite(n.asDouble())) {
            throw new UnsupportedModelException(field, "must be a positive number, got " + n);
        }
        return n.asDouble();
    }

    boolean bool(String field, boolean fallback) {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) {
            return fallback;
        }
        if (!n.isBoolean()) {
            throw new UnsupportedModelException(field, "must be true or false, got " + n);
        }
        return n.asBoolean();
    }

    String text(String field, String fallback) {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) {
            return fallback;
        }
        if (!n.isTextual()) {
            throw new UnsupportedModelException(field, "must be a string, got " + n);
        }
        return n.asText();
    }

    /** Refuses a boolean that, when set to {@code unsupported}, changes what the model computes. */
    void requireBool(String field, boolean fallback, boolean required, String why) {
        if (bool(field, fallback) != required) {
            throw new UnsupportedModelException(field, "must be " + required + " (" + why + ")");
        }
    }
}
