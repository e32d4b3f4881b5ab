package io.fedlora.agent.daemon;

/** What Enrol returned, kept in {@code work-dir/credential.json}; {@link #toString()} hides the secret. */
public record StoredCredential(String clientId, String credential, String federationId, String coordinator) {

    public StoredCredential {
        if (clientId == null || clientId.isBlank() || credential == null || credential.isBlank()) {
            throw new IllegalArgumentException("a stored credential needs a client id and a secret");
        }
    }

    @Override
    public String toString() {
        return "StoredCredential[clientId=" + clientId + ", federationId=" + federationId + ", coordinator=" + coordinator + "]";
    }
}
