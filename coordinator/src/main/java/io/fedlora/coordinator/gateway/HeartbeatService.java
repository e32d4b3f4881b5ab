package io.fedlora.coordinator.gateway;

import io.fedlora.coordinator.client.HeartbeatLog;
import io.fedlora.coordinator.clientapi.AuthenticatedClient;
import io.fedlora.coordinator.round.Signals;
import org.springframework.stereotype.Service;

/**
 * Records that a client is alive (and what it holds) in the {@link HeartbeatLog}, which writes heartbeats to the
 * database in batches, so a heartbeat never waits for the database however many clients poll or upload. A
 * heartbeat from a client not heard from lately may make a waiting round selectable and wakes the scheduler; the
 * routine beats of live clients do not (the scheduler's tick sees them).
 */
@Service
public class HeartbeatService {

    private final HeartbeatLog beats;
    private final Signals signals;

    public HeartbeatService(HeartbeatLog beats, Signals signals) {
        this.beats = beats;
        this.signals = signals;
    }

    public void heartbeat(AuthenticatedClient client, String state, long cachedModelVersion, String device) {
        ClientText.require("state", state, 1000);
        ClientText.require("device", device, 200);
        if (beats.record(client.clientId(), blankToNull(state), cachedModelVersion >= 0 ? cachedModelVersion : null,
                blankToNull(device))) {
            signals.wakeScheduler();
        }
    }

    /** A task poll also proves the client alive; it does not wake the scheduler. */
    void polled(AuthenticatedClient client, long cachedModelVersion) {
        beats.record(client.clientId(), null, cachedModelVersion >= 0 ? cachedModelVersion : null, null);
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }
}
