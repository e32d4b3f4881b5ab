package io.fedlora.demo.admin;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A federation as {@code GET /api/v1/federations/{id}} reports it: the fields the demo acts on plus
 * the whole document for anything else.
 */
public record FederationView(String id, String status, int currentRound, JsonNode json) {

    /** True once the federation can no longer change (completed, cancelled or failed). */
    public boolean isFinished() {
        return switch (status) {
            case "COMPLETED", "CANCELLED", "FAILED" -> true;
            default -> false;
        };
    }

    static FederationView from(JsonNode json) {
        return new FederationView(json.path("id").asText(), json.path("status").asText(),
                json.path("currentRound").asInt(0), json);
    }

    /** The reason the coordinator gives for a failure, if any field carries one. */
    public String reason() {
        for (String field : new String[] {"failureReason", "reason", "statusReason", "error", "message"}) {
            if (json.hasNonNull(field) && !json.get(field).asText().isBlank()) {
                return json.get(field).asText();
            }
        }
        return "";
    }
}
