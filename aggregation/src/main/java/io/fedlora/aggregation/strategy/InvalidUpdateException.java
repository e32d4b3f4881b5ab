package io.fedlora.aggregation.strategy;

/**
 * A client update that cannot be aggregated (missing or extra module, wrong shape, non-finite values,
 * a changed frozen A, ...). Thrown before the accumulator changes, so the round can go on without it.
 */
public class InvalidUpdateException extends IllegalArgumentException {

    private final String clientId;
    private final String module;

    public InvalidUpdateException(String clientId, String module, String problem) {
        super("update from client '" + clientId + "'" + (module == null ? "" : ", module '" + module + "'") + ": " + problem);
        this.clientId = clientId;
        this.module = module;
    }

    public String clientId() {
        return clientId;
    }

    /** The module at fault, or {@code null} if the update as a whole is. */
    public String module() {
        return module;
    }
}
