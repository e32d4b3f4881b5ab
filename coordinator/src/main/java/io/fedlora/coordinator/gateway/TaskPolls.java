package io.fedlora.coordinator.gateway;

import io.fedlora.coordinator.clientapi.AuthenticatedClient;
import io.fedlora.coordinator.clientapi.ClientApiException;
import io.fedlora.coordinator.clientapi.ClientApiException.Kind;
import io.fedlora.coordinator.clientapi.ClientTask;
import io.fedlora.coordinator.config.FedloraProperties;
import io.fedlora.coordinator.round.Signals;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.stereotype.Service;

/**
 * Long polls for tasks without a thread per waiting client. A poll is a {@link Waiter} registered with
 * {@link Signals} and completed by whichever comes first: a check that finds work (run on a small fixed pool when
 * the poll starts and each time its federation changes, never more than one at a time per poll), the end of its
 * wait (one timer thread), a newer poll of the same client (ABORTED), or its cancellation. What a waiting poll
 * holds is a few small objects, so thousands can wait on a handful of threads.
 */
@Service
public class TaskPolls implements DisposableBean {

    private final TaskService tasks;
    private final HeartbeatService heartbeats;
    private final Signals signals;
    private final Duration cap;
    private final ExecutorService checks;
    private final ScheduledThreadPoolExecutor timer;
    private final java.util.concurrent.atomic.AtomicLong checksRun = new java.util.concurrent.atomic.AtomicLong();

    public TaskPolls(TaskService tasks, HeartbeatService heartbeats, Signals signals, FedloraProperties properties) {
        this.tasks = tasks;
        this.heartbeats = heartbeats;
        this.signals = signals;
        this.cap = properties.scheduler().maxPollWait();
        this.checks = Executors.newFixedThreadPool(properties.scheduler().pollCheckThreads(), daemon("fedlora-task-check-"));
        this.timer = new ScheduledThreadPoolExecutor(1, daemon("fedlora-task-poll-timer-"));
        this.timer.setRemoveOnCancelPolicy(true); // an answered poll's timeout does not linger in the queue
    }

    /**
     * Starts waiting up to {@code maxWait} (capped by fedlora.scheduler.max-poll-wait) for work for this client; the
     * poll is checked once even with no wait at all. Cancelling the returned future ends the wait.
     */
    public CompletableFuture<Optional<ClientTask>> start(AuthenticatedClient client, long cachedModelVersion,
            Duration maxWait) {
        long waitNanos = Math.max(0, Math.min(maxWait.toNanos(), cap.toNanos()));
        Waiter w = new Waiter(client, cachedModelVersion, System.nanoTime() + waitNanos);
        w.registration = signals.registerPoll(client.clientId(), client.federationId(), w);
        w.result.whenComplete((task, error) -> w.ended());
        w.federationChanged(); // the first check
        return w.result;
    }

    /** Checks for work run so far (each reads the federation's state from the database). */
    public long checksRun() {
        return checksRun.get();
    }

    /** Polls waiting now. */
    public int waiting() {
        return signals.waitingPolls();
    }

    @Override
    public void destroy() {
        checks.shutdownNow();
        timer.shutdownNow();
    }

    private static ThreadFactory daemon(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    /** One outstanding poll: its state is guarded by its monitor, its answer is {@link #result}'s, set once. */
    private final class Waiter implements Signals.PollListener {
        private final AuthenticatedClient client;
        private final long cachedModelVersion;
        private final long deadlineNanos;
        final CompletableFuture<Optional<ClientTask>> result = new CompletableFuture<>();
        volatile Signals.PollRegistration registration;
        private boolean checking;
        private boolean changedWhileChecking;
        private boolean checkedOnce;
        private ScheduledFuture<?> timeout;

        Waiter(AuthenticatedClient client, long cachedModelVersion, long deadlineNanos) {
            this.client = client;
            this.cachedModelVersion = cachedModelVersion;
            this.deadlineNanos = deadlineNanos;
        }

        @Override
        public synchronized void federationChanged() {
            if (result.isDone()) {
                return;
            }
            if (checking) {
                changedWhileChecking = true;
                return;
            }
            checking = true;
            submitCheck();
        }

        @Override
        public void superseded() {
            result.completeExceptionally(new ClientApiException(Kind.ABORTED,
                    "superseded by a newer GetTask poll from this client; a client keeps one poll outstanding"));
        }

        private void submitCheck() {
            try {
                checks.execute(this::check);
            } catch (RejectedExecutionException e) {
                result.completeExceptionally(new ClientApiException(Kind.UNAVAILABLE, "the coordinator is shutting down"));
            }
        }

        private void check() {
            checksRun.incrementAndGet();
            boolean first;
            synchronized (this) {
                first = !checkedOnce;
            }
            Optional<ClientTask> task;
            try {
                if (first) {
                    heartbeats.polled(client, cachedModelVersion); // a poll proves the client alive, superseded or not
                }
                if (result.isDone()) {
                    return;
                }
                task = tasks.taskFor(client);
            } catch (RuntimeException e) {
                result.completeExceptionally(e);
                return;
            }
            if (task.isPresent()) {
                result.complete(task);
                return;
            }
            synchronized (this) {
                if (result.isDone()) {
                    return;
                }
                if (!checkedOnce) {
                    checkedOnce = true;
                    long left = deadlineNanos - System.nanoTime();
                    if (left <= 0) {
                        result.complete(Optional.empty());
                        return;
                    }
                    timeout = timer.schedule(() -> result.complete(Optional.empty()), left, TimeUnit.NANOSECONDS);
                }
                if (changedWhileChecking) {
                    changedWhileChecking = false;
                    submitCheck();
                } else {
                    checking = false;
                }
            }
        }

        /** However the poll ended: stop listening and drop its timeout. */
        void ended() {
            Signals.PollRegistration r = registration;
            if (r != null) {
                r.close();
            }
            ScheduledFuture<?> t;
            synchronized (this) {
                t = timeout;
            }
            if (t != null) {
                t.cancel(false);
            }
        }
    }
}
