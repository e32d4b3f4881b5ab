package io.fedlora.demo.admin;

import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;

/** One round as {@code GET /api/v1/federations/{id}/rounds} reports it. */
public record RoundView(int round, String status, int attempt, List<ParticipantView> participants,
                        RoundMetrics metrics, JsonNode json) {

    public RoundView {
        participants = List.copyOf(participants);
    }

    /** Clients whose update the coordinator holds. */
    public long reportedCount() {
        return participants.stream().filter(ParticipantView::reported).count();
    }

    /** True once the round's new model version is published. */
    public boolean isPublished() {
        return "PUBLISHED".equals(status) || "COMPLETED".equals(status);
    }

    /**
     * One view per round number, the latest attempt of each (the API lists retried attempts too),
     * ordered by round number.
     */
    public static List<RoundView> latestAttempts(List<RoundView> rounds) {
        java.util.TreeMap<Integer, RoundView> latest = new java.util.TreeMap<>();
        for (RoundView r : rounds) {
            latest.merge(r.round(), r, (a, b) -> b.attempt() >= a.attempt() ? b : a);
        }
        return new ArrayList<>(latest.values());
    }

    /** Parses one element of the rounds answer. */
    public static RoundView parse(JsonNode json) {
        List<ParticipantView> participants = new ArrayList<>();
        for (JsonNode p : json.path("participants")) {
            participants.add(ParticipantView.from(p));
        }
        return new RoundView(json.path("round").asInt(), json.path("status").asText(), json.path("attempt").asInt(1),
                participants, RoundMetrics.from(json.get("metrics")), json);
    }
}
