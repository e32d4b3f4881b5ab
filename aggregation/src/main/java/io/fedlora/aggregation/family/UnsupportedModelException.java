package io.fedlora.aggregation.family;

/**
 * A model the agents cannot compute exactly as HF transformers does. {@code field} names the {@code config.json}
 * field (or weight) that decides it, so the coordinator can answer 400 naming it and the agent refuse the same way.
 */
public class UnsupportedModelException extends IllegalArgumentException {

    private final String field;

    public UnsupportedModelException(String field, String message) {
        super(field + ": " + message);
        this.field = field;
    }

    /** The config field (e.g. {@code n_inner}, {@code rope_scaling}) or weight key at fault. */
    public String field() {
        return field;
    }
}
