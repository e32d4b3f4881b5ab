package io.fedlora.cli;

/**
 * The exit statuses every fedlora command shares, so scripts can tell a typo from a failed run. Commands that need
 * more (the agent's refused enrolment) add their own codes above these and list them in their {@code --help}.
 */
public final class ExitCode {

    /** The command did what it was asked. */
    public static final int OK = 0;
    /** The command ran and failed (I/O, an unreachable service, a bug). */
    public static final int FAILURE = 1;
    /** The command line or the input it names is wrong: unknown option, bad value, missing file. Nothing ran. */
    public static final int USAGE = 2;

    private ExitCode() {
    }
}
