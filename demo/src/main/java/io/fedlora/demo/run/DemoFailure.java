package io.fedlora.demo.run;

/** The demo could not complete; the message says why and where the logs are. */
public class DemoFailure extends RuntimeException {

    public DemoFailure(String message) {
        super(message);
    }

    public DemoFailure(String message, Throwable cause) {
        super(message, cause);
    }
}
