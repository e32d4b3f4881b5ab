package io.fedlora.coordinator.round;

import java.time.Instant;
import java.util.List;
import java.util.Map;

/** A round attempt as the admin API shows it: participants with their updates, and the round's metrics. */
public record RoundView(int round, int attempt, String status, String reason, long baseVersion, Instant startedAt,
        Instant deadline, Instant endedAt, List<ParticipantView> participants, Map<String, Object> metrics) {

    /** One selected client: did it report, with how many examples and which training metrics. */
    public record ParticipantView(String clientId, String clientName, String status, Long numExamples,
            Map<String, Object> metrics) {}
}
