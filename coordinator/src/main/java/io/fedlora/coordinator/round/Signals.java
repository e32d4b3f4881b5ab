package io.fedlora.coordinator.round;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionSynchronization;
import org.springframework.transaction.support.TransactionSynchronizationManager;

/**
 * Wake-ups between the parts of the coordinator: a long-polling client waits on its {@link PollWaiter},
 * woken when its federation changes (one outstanding poll per client: a newer one supersedes it), and the scheduler thread sleeps on a semaphore that events release.
 * Signals raised inside a transaction fire after it commits, so a woken reader sees the new state.
 */
@Component
public class Signals {

    /**
     * One client's outstanding long poll. Registered once for the poll's whole life, so a change that happens
     * while the poll is checking for work is not lost; a newer poll of the same client supersedes it.
     */
    public final class PollWaiter implements AutoCloseable {
        private final String clientId;
        private final String federationId;
        private boolean changed;
        private boolean superseded;

        private PollWaiter(String clientId, String federationId) {
            this.clientId = clientId;
            this.federationId = federationId;
        }

        /**
         * Waits until the federation changed since the last call, this poll was superseded, or {@code nanos}
         * passed; true if it changed (and not superseded).
         */
        public synchronized boolean awaitChange(long nanos) throws InterruptedException {
            long end = System.nanoTime() + nanos;
            while (!changed && !superseded) {
                long left = end - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
            changed = false;
            return !superseded;
        }

        /** True once a newer poll of the same client registered. */
        public synchronized boolean superseded() {
            return superseded;
        }

        private synchronized void wake() {
            changed = true;
            notifyAll();
        }

        private synchronized void supersede() {
            superseded = true;
            notifyAll();
        }

        @Override
        public void close() {
            waiters.remove(clientId, this);
        }
    }

    private final Map<String, PollWaiter> waiters = new ConcurrentHashMap<>();
    private final Semaphore schedulerWake = new Semaphore(0);

    /** Registers {@code clientId}'s long poll, superseding the client's earlier one if still outstanding. */
    public PollWaiter registerPoll(String clientId, String federationId) {
        PollWaiter w = new PollWaiter(clientId, federationId);
        PollWaiter old = waiters.put(clientId, w);
        if (old != null) {
            old.supersede();
        }
        return w;
    }

    /** Something changed in a federation: clients waiting for work re-check, the scheduler runs. */
    public void federationChanged(String federationId) {
        afterCommit(() -> {
            waiters.values().stream().filter(w -> w.federationId.equals(federationId)).forEach(PollWaiter::wake);
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
