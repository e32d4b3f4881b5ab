package io.fedlora.demo.admin;

import java.util.Locale;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;

/** One selected client of a round as the rounds endpoint reports it. */
public record ParticipantView(String clientId, String clientName, String status, long numExamples) {

    private static final Set<String> REPORTED = Set.of("REPORTED", "UPLOADED", "ACCEPTED", "RECEIVED", "AGGREGATED");

    /** True when the coordinator holds this client's update for the round. */
    public boolean reported() {
        return REPORTED.contains(status.toUpperCase(Locale.ROOT));
    }

    static ParticipantView from(JsonNode json) {
        return new ParticipantView(json.path("clientId").asText(), json.path("clientName").asText(),
                json.path("status").asText(), json.path("numExamples").asLong(0));
    }
}
