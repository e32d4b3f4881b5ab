package io.fedlora.demo.report;

import io.fedlora.demo.admin.RoundMetrics;
import io.fedlora.demo.admin.RoundView;

/**
 * The outcome of one round as the demo reports it. Metric fields are {@code null} when the
 * coordinator did not report them.
 */
public record RoundResult(int round, long participants, int selected, Double exactnessRelError,
                          Double fedavgDeviationRel, Double evalLoss, Double evalAccuracy, Double aggregateMs,
                          Double bytesDown, Double bytesUp, Double trainLoss) {

    public static RoundResult from(RoundView view) {
        RoundMetrics m = view.metrics();
        return new RoundResult(view.round(), view.reportedCount(), view.participants().size(),
                m.exactnessRelError(), m.fedavgDeviationRel(), m.evalLoss(), m.evalAccuracy(), m.aggregateMs(),
                m.bytesDown(), m.bytesUp(), m.trainLoss());
    }
}
