package io.fedlora.coordinator.round;

import io.fedlora.coordinator.client.HeartbeatLog;
import io.fedlora.coordinator.config.FedloraProperties;
import io.fedlora.coordinator.federation.FederationRepository;
import io.fedlora.coordinator.federation.FederationStatus;
import java.util.EnumSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/**
 * One background thread that drives every running federation: a pass every tick (~200 ms) or as soon
 * as an event wakes it. All state is in the database, so a restarted coordinator simply resumes.
 */
@Component
public class RoundScheduler implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(RoundScheduler.class);

    private final FederationRepository federations;
    private final RoundEngine engine;
    private final Signals signals;
    private final FedloraProperties properties;
    private volatile Thread thread;
    private volatile boolean running;

    private final RoundRepository rounds;
    private final HeartbeatLog heartbeats;

    public RoundScheduler(FederationRepository federations, RoundRepository rounds, RoundEngine engine, Signals signals,
            FedloraProperties properties, HeartbeatLog heartbeats) {
        this.rounds = rounds;
        this.heartbeats = heartbeats;
        this.federations = federations;
        this.engine = engine;
        this.signals = signals;
        this.properties = properties;
    }

    @Override
    public synchronized void start() {
        if (running) {
            return;
        }
        running = true;
        resumeDeadlines();
        thread = new Thread(this::loop, "fedlora-round-scheduler");
        thread.setDaemon(true);
        thread.start();
    }

    private void loop() {
        while (running) {
            try {
                passOnce();
                signals.sleepScheduler(properties.scheduler().tick());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                log.error("scheduler pass failed; retrying next tick", e);
                try {
                    Thread.sleep(properties.scheduler().tick().toMillis());
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /**
     * At startup: clients could not reach this coordinator while it was down, so a round in progress gives them a
     * full deadline again (as after a pause) instead of closing, the moment it resumes, on deadlines that ran out
     * during the outage with nobody able to report.
     */
    private void resumeDeadlines() {
        for (String id : federations.idsWithStatus(EnumSet.of(FederationStatus.RUNNING))) {
            try {
                federations.find(id).ifPresent(f -> rounds.extendLiveDeadlines(id, f.spec().roundDeadlineSeconds()));
            } catch (RuntimeException e) {
                log.warn("federation {}: could not extend the deadlines of its round in progress: {}", id, e.toString());
            }
        }
    }

    /** Advances every running federation once, judging liveness with every heartbeat received so far. */
    public void passOnce() {
        heartbeats.flush();
        for (String id : federations.idsWithStatus(EnumSet.of(FederationStatus.RUNNING))) {
            if (!running) {
                return;
            }
            try {
                engine.advance(id);
            } catch (RuntimeException e) {
                log.error("federation {}: scheduler step failed", id, e);
            }
        }
    }

    @Override
    public synchronized void stop() {
        running = false;
        Thread t = thread;
        if (t != null) {
            signals.wakeScheduler();
            try {
                t.join(10_000);
                if (t.isAlive()) {
                    t.interrupt();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        thread = null;
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    @Override
    public int getPhase() {
        // stop before the web/gRPC servers' graceful shutdown ends and before the DataSource closes
        return Integer.MAX_VALUE - 2048;
    }
}
