package io.fedlora.aggregation.cli;

import io.fedlora.cli.UserError;

/** A user error (bad input files, inputs that do not fit together): one clear line, exit code 2, nothing written. */
public class CliException extends UserError {

    public CliException(String message) {
        super(message);
    }
}
