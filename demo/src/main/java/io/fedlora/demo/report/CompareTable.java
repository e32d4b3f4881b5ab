package io.fedlora.demo.report;

import java.util.ArrayList;
import java.util.List;

/** Several runs on the same inputs side by side: final evaluation, then per round exactness error, deviation and evaluation. */
public final class CompareTable {

    private CompareTable() {
    }

    public static String render(List<RunResult> runs) {
        List<String> header = new ArrayList<>();
        header.add("");
        runs.forEach(run -> header.add(run.strategy()));
        TextTable table = new TextTable(header);
        table.add(row("final eval loss", runs, r -> Formats.loss(r.lastRound().map(RoundResult::evalLoss).orElse(null))));
        table.add(row("final eval accuracy", runs,
                r -> Formats.percent(r.lastRound().map(RoundResult::evalAccuracy).orElse(null))));
        table.add(row("status", runs, RunResult::status));
        int maxRounds = runs.stream().mapToInt(r -> r.rounds().size()).max().orElse(0);
        for (int i = 0; i < maxRounds; i++) {
            int index = i;
            // label by the round's own number: the list starts with round 0 (the base model) when it was evaluated
            String label = "round " + runs.stream().map(r -> round(r, index)).filter(java.util.Objects::nonNull)
                    .findFirst().map(RoundResult::round).orElse(index);
            table.add(row(label + " exactness err", runs,
                    r -> Formats.sci(round(r, index) == null ? null : round(r, index).exactnessRelError())));
            table.add(row(label + " FedAvg deviation", runs,
                    r -> Formats.sci(round(r, index) == null ? null : round(r, index).fedavgDeviationRel())));
            table.add(row(label + " eval loss", runs,
                    r -> Formats.loss(round(r, index) == null ? null : round(r, index).evalLoss())));
            table.add(row(label + " eval accuracy", runs,
                    r -> Formats.percent(round(r, index) == null ? null : round(r, index).evalAccuracy())));
        }
        return table.render();
    }

    private static RoundResult round(RunResult run, int index) {
        return index < run.rounds().size() ? run.rounds().get(index) : null;
    }

    private static List<String> row(String label, List<RunResult> runs, java.util.function.Function<RunResult, String> cell) {
        List<String> row = new ArrayList<>();
        row.add(label);
        runs.forEach(run -> row.add(cell.apply(run)));
        return row;
    }
}
