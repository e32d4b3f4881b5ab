package io.fedlora.aggregation.strategy;

import java.util.List;
import java.util.Locale;

/** Looks strategies up by their configuration name. */
public final class Strategies {

    private Strategies() {
    }

    public static List<String> names() {
        return List.of(FedExStrategy.NAME, FedItStrategy.NAME, FfaStrategy.NAME);
    }

    /** {@code fedex}, {@code fedit} or {@code ffa} (case-insensitive). */
    public static AggregationStrategy byName(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        return switch (n) {
            case FedExStrategy.NAME -> new FedExStrategy();
            case FedItStrategy.NAME -> new FedItStrategy();
            case FfaStrategy.NAME -> new FfaStrategy();
            default -> throw new IllegalArgumentException("unknown aggregation strategy '" + name
                    + "' (expected one of " + names() + ")");
        };
    }
}
