package io.fedlora.aggregation.strategy;

/**
 * One round's streaming accumulator: updates are folded in one at a time as they arrive, so memory does
 * not grow with the number of clients beyond the smaller of the stacked factors and one dense matrix per
 * layer. Thread-safe; {@link #finish()} may be called once.
 */
public interface RoundAggregator {

    /**
     * Folds in one client's update. A bad update throws {@link InvalidUpdateException} and leaves the
     * accumulator unchanged; the same client id twice is rejected.
     */
    void add(ClientUpdate update);

    /** Clients accepted so far. */
    int clientCount();

    /** Produces the new global factors, residuals and metrics; needs at least one accepted update. */
    AggregationResult finish();
}
