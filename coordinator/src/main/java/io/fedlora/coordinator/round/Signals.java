package io.fedlora.coordinator.round;

import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionSynchronization;
import org.springframework.transaction.support.TransactionSynchronizationManager;

/**
 * Wake-ups between the parts of the coordinator: a long-polling client registers a {@link PollListener}, told when
 * its federation changes (one outstanding poll per client: a newer one supersedes it), and the scheduler thread
 * sleeps on a semaphore that events release. Nothing here blocks a waiting client's thread: a listener is only
 * called, and must only hand its work off. Signals raised inside a transaction fire after it commits, so a woken
 * reader sees the new state.
 */
@Component
public class Signals {

    /** A client's outstanding long poll as the signals see it. Called on the signalling thread: hand off, never block. */
    public interface PollListener {
        /** Something changed in the poll's federation: re-check for work. */
        void federationChanged();

        /** A newer poll of the same client registered: this one ends. */
        void superseded();
    }

    /**
     * One registered poll. Registered once for the poll's whole life, so a change that happens while the poll is
     * checking for work is not lost; closed when the poll ends (answered, timed out, cancelled, superseded).
     */
    public final class PollRegistration implements AutoCloseable {
        private final String clientId;
        private final String federationId;
        private final PollListener listener;

        private PollRegistration(String clientId, String federationId, PollListener listener) {
            this.clientId = clientId;
            this.federationId = federationId;
            this.listener = listener;
        }

        @Override
        public void close() {
            byClient.remove(clientId, this);
            byFederation.computeIfPresent(federationId, (id, polls) -> {
                polls.remove(this);
                return polls.isEmpty() ? null : polls;
            });
        }
    }

    private final Map<String, PollRegistration> byClient = new ConcurrentHashMap<>();
    private final Map<String, Set<PollRegistration>> byFederation = new ConcurrentHashMap<>();
    private final Semaphore schedulerWake = new Semaphore(0);

    /** Registers {@code clientId}'s long poll, superseding the client's earlier one if still outstanding. */
    public PollRegistration registerPoll(String clientId, String federationId, PollListener listener) {
        PollRegistration r = new PollRegistration(clientId, federationId, listener);
        byFederation.compute(federationId, (id, polls) -> {
            Set<PollRegistration> set = polls == null ? ConcurrentHashMap.newKeySet() : polls;
            set.add(r);
            return set;
        });
        PollRegistration old = byClient.put(clientId, r);
        if (old != null) {
            old.close();
            old.listener.superseded();
        }
        return r;
    }

    /** Polls registered now (each client counts once). */
    public int waitingPolls() {
        return byClient.size();
    }

    /** Something changed in a federation: clients waiting for work re-check, the scheduler runs. */
    public void federationChanged(String federationId) {
        afterCommit(() -> {
            Set<PollRegistration> polls = byFederation.get(federationId);
            if (polls != null) {
                polls.forEach(r -> r.listener.federationChanged());
            }
            schedulerWake.release();
        });
    }

    /** Asks the scheduler for a pass now (e.g. an update arrived: maybe everyone has reported). */
    public void wakeScheduler() {
        afterCommit(schedulerWake::release);
    }

    /** Sleeps the scheduler thread until woken or {@code max} passes. */
    void sleepScheduler(Duration max) throws InterruptedException {
        if (schedulerWake.tryAcquire(max.toNanos(), TimeUnit.NANOSECONDS)) {
            schedulerWake.drainPermits();
        }
    }

    private static void afterCommit(Runnable r) {
        if (TransactionSynchronizationManager.isSynchronizationActive()) {
            TransactionSynchronizationManager.registerSynchronization(new TransactionSynchronization() {
                @Override
                public void afterCommit() {
                    r.run();
                }
            });
        } else {
            r.run();
        }
    }
}
