package io.fedlora.demo.report;

import java.io.PrintStream;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import io.fedlora.demo.admin.RoundView;

/**
 * Turns successive snapshots of a federation's rounds into progress lines, printing each event
 * once: clients reporting, the aggregation (time, exactness error, FedAvg deviation) and the
 * evaluation of the new version.
 */
public final class ProgressPrinter {

    private final PrintStream out;
    private final String prefix;
    private final String strategy;
    private final int totalRounds;
    private final Map<Integer, Long> reported = new HashMap<>();
    private final Set<String> printed = new HashSet<>();

    public ProgressPrinter(PrintStream out, String prefix, String strategy, int totalRounds) {
        this.out = out;
        this.prefix = prefix;
        this.strategy = strategy;
        this.totalRounds = totalRounds;
    }

    /** Prints what changed since the previous snapshot. */
    public void update(List<RoundView> rounds) {
        for (RoundView round : rounds) {
            String label = prefix + "round " + round.round() + "/" + totalRounds + ": ";
            if (!round.participants().isEmpty() && printOnce(round.round() + ":selected")) {
                out.println(label + round.participants().size() + " clients selected");
            }
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
