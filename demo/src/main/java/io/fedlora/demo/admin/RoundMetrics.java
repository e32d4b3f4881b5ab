package io.fedlora.demo.admin;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The metrics of one round. A {@code null} field has not been reported (yet): aggregation metrics
 * appear when the round is aggregated, evaluation metrics when the clients have evaluated the new version.
 */
public record RoundMetrics(Double exactnessRelError, Double fedavgDeviationRel, Double aggregateMs,
                           Double bytesUp, Double bytesDown, Double evalLoss, Double evalAccuracy, Double trainLoss) {

    public static final RoundMetrics NONE = new RoundMetrics(null, null, null, null, null, null, null, null);

    static RoundMetrics from(JsonNode json) {
        if (json == null || !json.isObject()) {
            return NONE;
        }
        return new RoundMetrics(number(json, "exactness_rel_error"), number(json, "fedavg_deviation_rel"),
                number(json, "aggregate_ms"), number(json, "bytes_up"), number(json, "bytes_down"),
                number(json, "eval_loss"), number(json, "eval_accuracy"), number(json, "train_loss"));
    }

    private static Double number(JsonNode json, String field) {
        JsonNode node = json.get(field);
        return node != null && node.isNumber() ? node.asDouble() : null;
    }
}
