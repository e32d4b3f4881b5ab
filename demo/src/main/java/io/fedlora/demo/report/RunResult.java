package io.fedlora.demo.report;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * One federation the demo ran: its strategy, how it ended, its rounds and where its final model was exported.
 */
public record RunResult(String strategy, String federationId, String status, List<RoundResult> rounds,
                        Optional<Path> exportDir, double durationSeconds) {

    public RunResult {
        rounds = List.copyOf(rounds);
    }

    /** The last round's result, if any round ran. */
    public Optional<RoundResult> lastRound() {
        return rounds.isEmpty() ? Optional.empty() : Optional.of(rounds.get(rounds.size() - 1));
    }
}
