package io.fedlora.demo.report;

import java.util.List;

/** The per-round results table printed at the end of a run. */
public final class ResultsTable {

    private ResultsTable() {
    }

    public static String render(RunResult run) {
        TextTable table = new TextTable(List.of("round", "clients", "exactness err", deviationHeader(run.strategy()),
                "eval loss", "eval acc", "aggregate", "down", "up"));
        for (RoundResult r : run.rounds()) {
            table.add(List.of(Integer.toString(r.round()), r.participants() + "/" + r.selected(),
                    Formats.sci(r.exactnessRelError()), Formats.sci(r.fedavgDeviationRel()),
                    Formats.loss(r.evalLoss()), Formats.percent(r.evalAccuracy()), Formats.millis(r.aggregateMs()),
                    Formats.bytes(r.bytesDown()), Formats.bytes(r.bytesUp())));
        }
        return table.render();
    }

    /** For fedex the FedAvg deviation is what exact aggregation avoided; for the baselines it is their error. */
    static String deviationHeader(String strategy) {
        return "fedex".equals(strategy) ? "FedAvg dev avoided" : "FedAvg deviation";
    }
}
