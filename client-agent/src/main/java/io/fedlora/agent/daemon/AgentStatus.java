package io.fedlora.agent.daemon;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/** What the agent is doing right now, shared by the task loop (writer) and the heartbeat (reader). */
public final class AgentStatus {

    private final AtomicReference<String> state = new AtomicReference<>("starting");
    private final AtomicLong cachedVersion = new AtomicLong(-1);
    private final AtomicLong serverClockOffsetMs = new AtomicLong();

    public String state() {
        return state.get();
    }

    public void state(String value) {
        state.set(value);
    }

    public long cachedVersion() {
        return cachedVersion.get();
    }

    public void cachedVersion(long version) {
        cachedVersion.set(version);
    }

    /** Coordinator clock minus local clock, as last estimated from a heartbeat; 0 until then. */
    public long serverClockOffsetMs() {
        return serverClockOffsetMs.get();
    }

    public void serverClockOffsetMs(long offset) {
        serverClockOffsetMs.set(offset);
    }

    /** The coordinator's current time as best known here (task deadlines are in its clock). */
    public long serverNowMs() {
        return System.currentTimeMillis() + serverClockOffsetMs.get();
    }
}
