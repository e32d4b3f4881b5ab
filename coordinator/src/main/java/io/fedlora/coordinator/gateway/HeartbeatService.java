package io.fedlora.coordinator.gateway;

import io.fedlora.coordinator.client.ClientRepository;
import io.fedlora.coordinator.clientapi.AuthenticatedClient;
import io.fedlora.coordinator.round.Signals;
import org.springframework.stereotype.Service;

/**
 * Records that a client is alive (and what it holds), one UPDATE per heartbeat and nothing else, so
 * heartbeats stay cheap however many clients poll or upload; a heartbeat may make a waiting round selectable.
 */
@Service
public class HeartbeatService {

    private final ClientRepository clients;
    private final Signals signals;

    public HeartbeatService(ClientRepository clients, Signals signals) {
        this.clients = clients;
        this.signals = signals;
    }

    public void heartbeat(AuthenticatedClient client, String state, long cachedModelVersion, String device) {
        ClientText.require("state", state, 1000);
        ClientText.require("device", device, 200);
        clients.heartbeat(client.clientId(), blankToNull(state), cachedModelVersion >= 0 ? cachedModelVersion : null,
                blankToNull(device));
        signals.wakeScheduler();
    }

    /** A task poll also proves the client alive; it does not wake the scheduler. */
    void polled(AuthenticatedClient client, long cachedModelVersion) {
        clients.heartbeat(client.clientId(), null, cachedModelVersion >= 0 ? cachedModelVersion : null, null);
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }
}
