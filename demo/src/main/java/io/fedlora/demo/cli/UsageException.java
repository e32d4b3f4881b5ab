package io.fedlora.demo.cli;

/** A command line the demo cannot run; the message says what is wrong and is shown with the usage text. */
public class UsageException extends Exception {

    public UsageException(String message) {
        super(message);
    }
}
