package io.fedlora.aggregation.strategy;

/**
 * How a round keeps what it needs for the residual while updates stream in. {@code AUTO} keeps the raw factors
 * while {@code n*r*(d_out+d_in) < d_out*d_in} and then switches to one dense {@code sum w_i B_i A_i}, so memory
 * never exceeds the smaller of the two. The forced modes exist for tests and benchmarks.
 */
public enum AccumulatorMode {
    AUTO,
    FACTORS,
    DENSE
}
