package io.fedlora.coordinator.round;

import io.swagger.v3.oas.annotations.media.Schema;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/** A round attempt as the admin API shows it: participants with their updates, and the round's metrics. */
public record RoundView(int round, int attempt, String status,
        @Schema(nullable = true, description = "why the attempt failed or was retried") String reason,
        long baseVersion, Instant startedAt,
        @Schema(nullable = true, description = "when the round stops waiting for updates") Instant deadline,
        @Schema(nullable = true, description = "null while the round is open") Instant endedAt,
        List<ParticipantView> participants,
        @Schema(description = "aggregation and evaluation metrics by name (see the operation)") Map<String, Object> metrics) {

    /** One selected client: did it report, with how many examples and which training metrics. */
    public record ParticipantView(String clientId, String clientName, String status,
            @Schema(nullable = true, description = "null until the client's update arrived") Long numExamples,
            Map<String, Object> metrics) {}
}
