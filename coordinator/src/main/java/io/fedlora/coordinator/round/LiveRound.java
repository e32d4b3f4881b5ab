package io.fedlora.coordinator.round;

import io.fedlora.aggregation.strategy.RoundAggregator;
import io.fedlora.coordinator.model.LayerShape;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The in-memory accumulator of one round while it collects: a cache of what the stored updates add up to, never
 * the record. Guarded by its own monitor; {@link RoundAccumulators} is the only class that touches it.
 */
final class LiveRound {

    final String federationId;
    final long roundId;
    /** Set once the base version is loaded; until then nothing is folded. */
    List<LayerShape> shapes;
    /** The base version's weights blob: its target weights are read from it when the round finishes. */
    String baseWeightsBlob;
    RoundAggregator aggregator;
    /** Ids of the stored updates already folded in. */
    final Set<String> folded = new HashSet<>();
    /** Handed to the aggregation (or dropped): later arrivals are not folded here. */
    boolean sealed;
    /** A fold failed: the aggregation rebuilds from the stored updates instead. */
    boolean broken;

    LiveRound(String federationId, long roundId) {
        this.federationId = federationId;
        this.roundId = roundId;
    }

    /** Frees the accumulator's off-heap state and forgets it (a failed fold, a dropped round, a rebuild). */
    void dropAggregator() {
        if (aggregator != null) {
            aggregator.discard();
            aggregator = null;
        }
    }

    boolean ready() {
        return aggregator != null && !broken;
    }
}
