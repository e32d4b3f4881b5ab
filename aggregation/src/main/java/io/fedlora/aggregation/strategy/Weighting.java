package io.fedlora.aggregation.strategy;

import java.util.Locale;

/** How clients are weighted: by example count (default; {@code w_i = n_i / sum n}) or uniformly (1/k, as the paper). */
public enum Weighting {
    EXAMPLES,
    UNIFORM;

    /** Unnormalised weight of a client with {@code numExamples}. */
    double rawWeight(long numExamples) {
        return this == EXAMPLES ? numExamples : 1.0;
    }

    /** Parses {@code "examples"} or {@code "uniform"} (case-insensitive). */
    public static Weighting fromName(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown weighting '" + name + "' (expected examples or uniform)");
        }
    }
}
