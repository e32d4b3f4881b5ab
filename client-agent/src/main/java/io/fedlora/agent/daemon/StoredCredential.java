package io.fedlora.agent.daemon;

/**
 * What Enrol returned, kept in {@code work-dir/credential.json}; {@link #toString()} hides the secret. {@code name}
 * is the name the agent enrolled under (absent in files written before it was recorded).
 */
public record StoredCredential(String clientId, String credential, String federationId, String coordinator, String name) {

    public StoredCredential {
        if (clientId == null || clientId.isBlank() || credential == null || credential.isBlank()) {
            throw new IllegalArgumentException("a stored credential needs a client id and a secret");
        }
    }

    /**
     * What this client's local training seeds derive from: its enrolment name, which the operator chooses and
     * which stays the same across federations (so two federations over the same agents and federation seed, e.g.
     * the demo's fedex/fedit comparison, see the same data order); the coordinator-issued id when no name was kept.
     */
    public String seedIdentity() {
        return name == null || name.isBlank() ? clientId : name;
    }

    @Override
    public String toString() {
        return "StoredCredential[clientId=" + clientId + ", federationId=" + federationId + ", coordinator=" + coordinator
                + ", name=" + name + "]";
    }
}
