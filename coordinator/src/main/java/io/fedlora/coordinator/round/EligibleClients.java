package io.fedlora.coordinator.round;

import io.fedlora.coordinator.client.ClientRepository;
import io.fedlora.coordinator.config.FedloraProperties;
import java.time.Instant;
import java.util.List;
import org.springframework.stereotype.Component;

/** Clients a round may count on: enrolled in the federation, not revoked, heard from recently. */
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
        return clients.eligible(federationId, Instant.now().minus(properties.scheduler().heartbeatTimeout()));
    }
}
