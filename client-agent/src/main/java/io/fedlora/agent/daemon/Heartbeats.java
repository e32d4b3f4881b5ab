package io.fedlora.agent.daemon;

import io.fedlora.agent.daemon.transport.CoordinatorClient;
import io.fedlora.agent.daemon.transport.Retrier;
import io.fedlora.proto.v1.HeartbeatRequest;
import io.fedlora.proto.v1.HeartbeatResponse;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells the coordinator, on its own thread, that this agent is alive, what it is doing, which model version
 * it holds and what it computes on. A failed beat is not retried: the next one is the retry. The interval the
 * coordinator suggests in its answer replaces the configured one.
 */
public final class Heartbeats implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Heartbeats.class);
    private static final long MIN_INTERVAL_MS = 200;
    private static final long MAX_INTERVAL_MS = 300_000;

    private final CoordinatorClient client;
    private final AgentStatus status;
    private final Supplier<String> device;
    private final ScheduledExecutorService scheduler;
    private volatile long intervalMs;
    private volatile boolean failing;

    public Heartbeats(CoordinatorClient client, AgentStatus status, Supplier<String> device, Duration interval) {
        this.client = client;
        this.status = status;
        this.device = device;
        this.intervalMs = clamp(interval.toMillis());
        this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "fedlora-heartbeat");
            t.setDaemon(true);
            return t;
        });
    }

    public void start() {
        scheduler.execute(this::beatAndReschedule);
    }

    private void beatAndReschedule() {
        try {
            beat();
        } finally {
            if (!scheduler.isShutdown()) {
                scheduler.schedule(this::beatAndReschedule, intervalMs, TimeUnit.MILLISECONDS);
            }
        }
    }

    /** Sends one heartbeat now; returns false when it did not get through. */
    boolean beat() {
        HeartbeatRequest request = HeartbeatRequest.newBuilder()
                .setState(status.state()).setCachedModelVersion(status.cachedVersion()).setDevice(device.get()).build();
        try {
            long sent = System.currentTimeMillis();
            HeartbeatResponse response = client.heartbeat(request);
            long received = System.currentTimeMillis();
            if (response.getServerTimeUnixMs() > 0) {
                status.serverClockOffsetMs(response.getServerTimeUnixMs() - (sent + received) / 2);
            }
            if (response.getIntervalMs() > 0) {
                intervalMs = clamp(response.getIntervalMs());
            }
            if (failing) {
                log.info("heartbeats reach the coordinator again");
                failing = false;
            }
            return true;
        } catch (StatusRuntimeException e) {
            if (!failing || !Retrier.isRetryable(e.getStatus())) {
                log.warn("heartbeat failed: {}", Retrier.describe(e.getStatus()));
            }
            failing = true;
            return false;
        } catch (RuntimeException e) {
            log.warn("heartbeat failed", e);
            return false;
        }
    }

    private static long clamp(long ms) {
        return Math.max(MIN_INTERVAL_MS, Math.min(MAX_INTERVAL_MS, ms));
    }

    @Override
    public void close() {
        scheduler.shutdownNow();
    }
}
