package io.fedlora.demo.process;

/** A child process that failed to start, finish or become ready; carries the process so callers can show its log. */
public class ChildProcessException extends RuntimeException {

    private final transient ChildProcess process;

    public ChildProcessException(String message, ChildProcess process) {
        super(message + " (log: " + process.logFile() + ")\n--- last lines of " + process.logFile().getFileName()
                + " ---\n" + process.logTail(40));
        this.process = process;
    }

    public ChildProcess process() {
        return process;
    }
}
