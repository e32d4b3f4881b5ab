package io.fedlora.cli;

/**
 * A mistake in what the user gave a command that only shows once it runs (a file that is not there, inputs that do
 * not fit together): printed as one {@code error:} line on stderr, without a stack trace, exit status
 * {@link ExitCode#USAGE}.
 */
public class UserError extends RuntimeException {

    public UserError(String message) {
        super(message);
    }
}
