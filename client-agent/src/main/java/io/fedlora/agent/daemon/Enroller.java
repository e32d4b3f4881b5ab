package io.fedlora.agent.daemon;

import io.fedlora.agent.daemon.transport.CoordinatorClient;
import io.fedlora.proto.v1.EnrolResponse;
import java.io.IOException;
import java.net.InetAddress;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns the one-time enrolment token into a stored credential the first time the agent starts, and reuses
 * that credential on every later start (the token is spent by then). Neither secret is ever logged.
 */
public final class Enroller {

    private static final Logger log = LoggerFactory.getLogger(Enroller.class);

    private final CoordinatorClient client;
    private final CredentialStore store;
    private final AgentProperties props;

    public Enroller(CoordinatorClient client, CredentialStore store, AgentProperties props) {
        this.client = client;
        this.store = store;
        this.props = props;
    }

    /** The agent's credential, enrolling first if none is stored; also makes the client use it. */
    public StoredCredential ensureEnrolled() throws IOException, InterruptedException {
        Optional<StoredCredential> stored = store.load();
        if (stored.isPresent()) {
            StoredCredential c = stored.get();
            log.info("using stored credential of client {} (federation {}) from {}", c.clientId(), c.federationId(), store.file());
            if (props.token() != null && !props.token().isBlank()) {
                log.info("an enrolment token was given but this agent is already enrolled; the token is not used");
            }
            if (c.coordinator() != null && props.coordinator() != null && !c.coordinator().equals(props.coordinator())) {
                log.warn("the stored credential was issued by {} but the agent now talks to {}", c.coordinator(), props.coordinator());
            }
            client.useCredential(c.credential());
            return c;
        }
        if (props.token() == null || props.token().isBlank()) {
            throw new IllegalStateException("no credential in " + store.file() + " and no enrolment token: start the agent"
                    + " once with --token TOKEN (fedlora.agent.token) issued by the coordinator's admin API");
        }
        String name = clientName();
        log.info("enrolling with {} as '{}'", props.coordinator(), name);
        EnrolResponse response = client.enrol(props.token(), name, Map.of());
        StoredCredential c = new StoredCredential(response.getClientId(), response.getCredential(),
                response.getFederationId(), props.coordinator(), name);
        store.save(c);
        log.info("enrolled as client {} in federation {}; credential stored in {}", c.clientId(), c.federationId(), store.file());
        client.useCredential(c.credential());
        return c;
    }

    private String clientName() {
        if (props.name() != null && !props.name().isBlank()) {
            return props.name();
        }
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "agent-" + ProcessHandle.current().pid();
        }
    }
}
