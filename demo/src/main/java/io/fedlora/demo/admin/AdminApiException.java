package io.fedlora.demo.admin;

/** A non-2xx answer from the coordinator's admin API; the message carries the problem detail it sent. */
public class AdminApiException extends RuntimeException {

    private final int status;
    private final String body;

    public AdminApiException(String request, int status, String body) {
        super(request + " answered HTTP " + status + (body == null || body.isBlank() ? "" : ": " + body));
        this.status = status;
        this.body = body;
    }

    public int status() {
        return status;
    }

    public String body() {
        return body;
    }
}
