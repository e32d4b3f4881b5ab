package io.fedlora.aggregation.strategy;

/**
 * One round's streaming accumulator: updates are folded in one at a time as they arrive, so memory does
 * not grow with the number of clients beyond the smaller of the stacked factors and one dense matrix per
 * layer. Thread-safe; {@link #finish()} may be called once.
 *
 * <p>Order: while a layer keeps factors ({@code n*r*(d_out+d_in) < d_out*d_in}) the result is bit for bit the one
 * of adding the updates in {@link ClientOrder} of their client ids, whatever order they arrived in. Once a layer
 * holds the dense sum, additions are in arrival order and the result agrees with any other order to fp32 rounding
 * (the sums of factors are kept in double, the dense sum in fp32).
 */
public interface RoundAggregator {

    /**
     * Folds in one client's update. A bad update throws {@link InvalidUpdateException} and leaves the
     * accumulator unchanged; the same client id twice is rejected.
     */
    void add(ClientUpdate update);

    /**
     * Every number the accumulator retains right now (sums, stored factors or dense sums, frozen A): bounded by
     * {@code sum over layers of min(n*r*(d_out+d_in), d_out*d_in) + r*(d_out+d_in)}, whatever the client count.
     */
    long retainedElements();

    /** Clients accepted so far. */
    int clientCount();

    /** Produces the new global factors, residuals and metrics; needs at least one accepted update. */
    AggregationResult finish();

    /**
     * Frees what the round holds off the heap (stored factors, dense sums) without aggregating, for a round that was
     * dropped or is rebuilt elsewhere: left to the garbage collector, up to one dense matrix per layer stays allocated
     * until a collection. Later {@link #add} and {@link #finish} calls fail; a second call does nothing.
     */
    void discard();
}
