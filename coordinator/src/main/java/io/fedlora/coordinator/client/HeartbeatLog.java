package io.fedlora.coordinator.client;

import io.fedlora.coordinator.config.FedloraProperties;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionSynchronizationManager;

/**
 * Heartbeat state (last heard from, state, cached version, device) kept in memory and written to the
 * {@code clients} table in one batched statement per {@code fedlora.scheduler.heartbeat-flush} interval, so a
 * heartbeat or task poll never waits for the database: a thousand clients beating every few seconds cost a few
 * batches a second instead of a row update (and a pool connection) each. Rows are stamped by the database's
 * {@code now()} when written, at most one interval after the beat. Readers that show or judge liveness
 * ({@link #flush()} callers: the scheduler's pass, the client listing) write what is pending first.
 */
@Component
public class HeartbeatLog implements DisposableBean {

    private static final Logger log = LoggerFactory.getLogger(HeartbeatLog.class);
    private static final String UPDATE = "UPDATE clients SET last_heartbeat = now(), state = COALESCE(?, state),"
            + " device = COALESCE(?, device), cached_model_version = COALESCE(?, cached_model_version) WHERE id = ?";

    /** What a client last said; a later beat's non-null fields win. */
    record Beat(String state, Long cachedVersion, String device) {
        Beat then(Beat later) {
            return new Beat(later.state != null ? later.state : state,
                    later.cachedVersion != null ? later.cachedVersion : cachedVersion,
                    later.device != null ? later.device : device);
        }
    }

    private final JdbcTemplate jdbc;
    private final LongSupplier nanoTime;
    private final long recentNanos;
    private final Map<String, Beat> pending = new ConcurrentHashMap<>();
    private final Map<String, Long> lastSeen = new ConcurrentHashMap<>();
    private final Object writing = new Object();
    private final ScheduledExecutorService flusher;

    @Autowired
    public HeartbeatLog(JdbcTemplate jdbc, FedloraProperties properties) {
        this(jdbc, properties, System::nanoTime);
    }

    HeartbeatLog(JdbcTemplate jdbc, FedloraProperties properties, LongSupplier nanoTime) {
        this.jdbc = jdbc;
        this.nanoTime = nanoTime;
        this.recentNanos = properties.scheduler().heartbeatTimeout().toNanos() / 2;
        long every = properties.scheduler().heartbeatFlush().toMillis();
        this.flusher = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "fedlora-heartbeat-flush");
            t.setDaemon(true);
            return t;
        });
        flusher.scheduleWithFixedDelay(this::flushQuietly, every, every, TimeUnit.MILLISECONDS);
    }

    /**
     * Records that {@code clientId} called in (null fields keep what is stored). Returns true when this process had
     * not heard from the client for half the heartbeat timeout (or never): its liveness may have changed, so a round
     * waiting for clients is worth a scheduler pass; false for the routine beats of a live client.
     */
    public boolean record(String clientId, String state, Long cachedVersion, String device) {
        pending.merge(clientId, new Beat(state, cachedVersion, device), Beat::then);
        long now = nanoTime.getAsLong();
        Long before = lastSeen.put(clientId, now);
        return before == null || now - before >= recentNanos;
    }

    /** True while a beat of this client has not been written yet (it has called in since its row was written). */
    public boolean hasPending(String clientId) {
        return pending.containsKey(clientId);
    }

    /**
     * Writes every pending beat now, in one batch. Inside a transaction it does nothing (the periodic flush writes
     * them): writing client rows from within another transaction could wait on locks that transaction's caller holds.
     */
    public void flush() {
        if (TransactionSynchronizationManager.isActualTransactionActive() || pending.isEmpty()) {
            return;
        }
        synchronized (writing) {
            List<Object[]> rows = new ArrayList<>(pending.size());
            for (String id : List.copyOf(pending.keySet())) {
                Beat b = pending.remove(id);
                if (b != null) {
                    rows.add(new Object[] {b.state(), b.device(), b.cachedVersion(), UUID.fromString(id)});
                }
            }
            if (!rows.isEmpty()) {
                jdbc.batchUpdate(UPDATE, rows);
            }
        }
        long cutoff = nanoTime.getAsLong() - 2 * recentNanos;
        lastSeen.values().removeIf(t -> t < cutoff);
    }

    private void flushQuietly() {
        try {
            flush();
        } catch (RuntimeException e) {
            log.warn("writing heartbeats failed; the next flush writes newer ones: {}", e.toString());
        }
    }

    @Override
    public void destroy() {
        flusher.shutdownNow();
        flushQuietly();
    }
}
