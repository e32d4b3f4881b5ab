package io.fedlora.demo.run;

/**
 * The demo was stopped by SIGINT/SIGTERM while running: what the main thread saw fail afterwards (children it was
 * waiting for gone) is the interrupt's doing, and the shutdown hook reports it, so nothing more is printed.
 */
public final class DemoInterrupted extends DemoFailure {

    public DemoInterrupted(Throwable cause) {
        super("interrupted", cause);
    }
}
