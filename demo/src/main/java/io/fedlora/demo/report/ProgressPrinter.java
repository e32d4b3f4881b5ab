package io.fedlora.demo.report;

import java.io.PrintStream;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;

import io.fedlora.demo.admin.ClientView;
import io.fedlora.demo.admin.ParticipantView;
import io.fedlora.demo.admin.RoundView;

/**
 * Turns successive snapshots of a federation's rounds into progress lines, printing each event
 * once: clients reporting, the aggregation (time, exactness error, FedAvg deviation) and the
 * evaluation of the new version; and, from the clients' heartbeat states, their local training steps
 * (at most one such line per {@link #TRAINING_LINE_EVERY_NANOS}, and only when it changed).
 */
public final class ProgressPrinter {

    private final PrintStream out;
    private final String prefix;
    private final String strategy;
    private final int totalRounds;
    private final Map<Integer, Long> reported = new HashMap<>();
    private final Set<String> printed = new HashSet<>();
    private final LongSupplier nanoClock;
    private final Set<String> reportedClients = new HashSet<>();
    private String lastTraining = "";
    private long lastTrainingAt;

    /** Training progress lines are at least this far apart. */
    static final long TRAINING_LINE_EVERY_NANOS = 3_000_000_000L;

    public ProgressPrinter(PrintStream out, String prefix, String strategy, int totalRounds) {
        this(out, prefix, strategy, totalRounds, System::nanoTime);
    }

    ProgressPrinter(PrintStream out, String prefix, String strategy, int totalRounds, LongSupplier nanoClock) {
        this.out = out;
        this.prefix = prefix;
        this.strategy = strategy;
        this.totalRounds = totalRounds;
        this.nanoClock = nanoClock;
        this.lastTrainingAt = nanoClock.getAsLong() - TRAINING_LINE_EVERY_NANOS;
    }

    /**
     * Prints the clients' local training steps of the latest round any of them is training, e.g.
     * {@code round 2/5: training client-1 80/150, client-2 60/150}.
     */
    public void clients(List<ClientView> clients) {
        int round = clients.stream().flatMap(c -> c.trainingStep().stream()).mapToInt(ClientView.TrainingStep::round)
                .max().orElse(-1);
        if (round < 0) {
            return;
        }
        StringBuilder steps = new StringBuilder();
        clients.stream().sorted(java.util.Comparator.comparing(ClientView::name)).forEach(c -> c.trainingStep()
                .filter(t -> t.round() == round && !reportedClients.contains(round + "/" + c.name()))
                .ifPresent(t -> steps.append(steps.length() == 0 ? "" : ", ").append(c.name()).append(' ')
                        .append(t.step()).append('/').append(t.total())));
        if (steps.length() == 0) {
            return; // every client training this round has already reported: its heartbeat state is stale
        }
        String line = prefix + "round " + round + "/" + totalRounds + ": training " + steps;
        long now = nanoClock.getAsLong();
        if (line.equals(lastTraining) || now - lastTrainingAt < TRAINING_LINE_EVERY_NANOS) {
            return;
        }
        out.println(line);
        out.flush();
        lastTraining = line;
        lastTrainingAt = now;
    }

    /** Prints what changed since the previous snapshot. */
    public void update(List<RoundView> rounds) {
        for (RoundView round : rounds) {
            String label = prefix + "round " + round.round() + "/" + totalRounds + ": ";
            if (!round.participants().isEmpty() && printOnce(round.round() + ":selected")) {
                out.println(label + round.participants().size() + " clients selected");
            }
            round.participants().stream().filter(ParticipantView::reported)
                    .forEach(p -> reportedClients.add(round.round() + "/" + p.clientName()));
            long count = round.reportedCount();
            Long before = reported.put(round.round(), count);
            if (count > 0 && (before == null || before != count)) {
                out.println(label + count + "/" + round.participants().size() + " clients reported");
            }
            RoundResult r = RoundResult.from(round);
            if (r.exactnessRelError() != null && printOnce(round.round() + ":aggregated")) {
                out.println(label + "aggregated " + r.participants() + " updates in " + Formats.millis(r.aggregateMs())
                        + " | exactness error " + Formats.sci(r.exactnessRelError())
                        + " | " + deviationLabel() + " " + Formats.sci(r.fedavgDeviationRel()));
            }
            if (r.evalLoss() != null && printOnce(round.round() + ":evaluated")) {
                out.println(label + "eval loss " + Formats.loss(r.evalLoss()) + ", accuracy " + Formats.percent(r.evalAccuracy()));
            }
            if ("FAILED".equals(round.status()) && printOnce(round.round() + ":" + round.attempt() + ":failed")) {
                out.println(label + "FAILED (attempt " + round.attempt() + ")");
            }
        }
        out.flush();
    }

    private String deviationLabel() {
        return "fedex".equals(strategy) ? "FedAvg deviation avoided" : "deviation from the exact average";
    }

    private boolean printOnce(String key) {
        return printed.add(key);
    }
}
