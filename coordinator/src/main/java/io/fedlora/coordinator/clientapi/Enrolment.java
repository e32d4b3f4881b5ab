package io.fedlora.coordinator.clientapi;

/** Result of a successful enrolment; {@code credential} is secret and never logged. */
public record Enrolment(String clientId, String credential, String federationId) {
    @Override
    public String toString() {
        return "Enrolment[clientId=" + clientId + ", federationId=" + federationId + "]";
    }
}
