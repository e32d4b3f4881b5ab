package io.fedlora.aggregation.cli;

/** A user error (bad arguments, bad input files): printed as one clear line, exit code 2, nothing written. */
public class CliException extends RuntimeException {

    public CliException(String message) {
        super(message);
    }
}
