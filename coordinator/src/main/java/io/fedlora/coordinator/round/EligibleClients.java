package io.fedlora.coordinator.round;

import io.fedlora.coordinator.client.ClientRepository;
import io.fedlora.coordinator.config.FedloraProperties;
import java.time.Instant;
import java.util.List;
import org.springframework.stereotype.Component;

/**
 * Clients a round may count on: enrolled in the federation, not revoked, heard from recently. Heartbeats are
 * stamped by the database's {@code now()}, so freshness is judged by system time, not by the injected clock that
 * round deadlines use (a test moving that clock past a deadline must not make every client look dead).
 */
@Component
public class EligibleClients {

    private final ClientRepository clients;
    private final FedloraProperties properties;

    public EligibleClients(ClientRepository clients, FedloraProperties properties) {
        this.clients = clients;
        this.properties = properties;
    }

    /** Their ids, sorted. */
    public List<String> of(String federationId) {
        return clients.eligible(federationId, aliveSince());
    }

    /** The oldest heartbeat that still counts as alive. */
    public Instant aliveSince() {
        return Instant.now().minus(properties.scheduler().heartbeatTimeout());
    }
}
