package io.fedlora.coordinator.round;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionSynchronization;
import org.springframework.transaction.support.TransactionSynchronizationManager;

/**
 * Wake-ups between the parts of the coordinator: long-polling clients wait on a future that completes
 * when their federation changes, and the scheduler thread sleeps on a semaphore that events release.
 * Signals raised inside a transaction fire after it commits, so a woken reader sees the new state.
 */
@Component
public class Signals {

    private record Waiter(String federationId, CompletableFuture<Void> future) {}

    private final Map<String, Waiter> waiters = new ConcurrentHashMap<>();
    private final Semaphore schedulerWake = new Semaphore(0);

    /** A future completed at the next change of {@code federationId}; replaces this client's earlier one. */
    public CompletableFuture<Void> await(String clientId, String federationId) {
        Waiter w = new Waiter(federationId, new CompletableFuture<>());
        Waiter old = waiters.put(clientId, w);
        if (old != null) {
            old.future().complete(null);
        }
        return w.future();
    }

    public void done(String clientId, CompletableFuture<Void> future) {
        waiters.computeIfPresent(clientId, (k, w) -> w.future() == future ? null : w);
    }

    /** Something changed in a federation: clients waiting for work re-check, the scheduler runs. */
    public void federationChanged(String federationId) {
        afterCommit(() -> {
            waiters.values().stream().filter(w -> w.federationId().equals(federationId))
                    .forEach(w -> w.future().complete(null));
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
