package io.fedlora.coordinator.model;

/** A base model directory or target list that cannot make a federation; {@code field} names the spec field. */
public class InvalidModelException extends RuntimeException {

    private final String field;

    public InvalidModelException(String field, String message) {
        super(message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
