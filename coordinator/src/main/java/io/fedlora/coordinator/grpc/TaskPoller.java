package io.fedlora.coordinator.grpc;

import io.fedlora.coordinator.clientapi.AuthenticatedClient;
import io.fedlora.coordinator.clientapi.ClientGateway;
import io.fedlora.coordinator.clientapi.ClientTask;
import io.fedlora.proto.v1.TaskRequest;
import io.fedlora.proto.v1.TaskResponse;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.stereotype.Component;

/**
 * Runs GetTask long polls on a dedicated bounded pool, never on gRPC's own threads: the wait is capped
 * by {@code fedlora.grpc.max-poll-wait} and by the call's deadline, and a cancelled call (agent gone,
 * deadline passed) interrupts its waiting thread. When the pool and its queue are full, new polls are
 * refused with RESOURCE_EXHAUSTED rather than queued without bound.
 */
@Component
public class TaskPoller implements DisposableBean {

    private static final Logger log = LoggerFactory.getLogger(TaskPoller.class);
    /** Time kept back from the caller's deadline so the WAIT answer still reaches it. */
    private static final long DEADLINE_MARGIN_MS = 250;

    private final ClientGateway gateway;
    private final Duration maxWait;
    private final ThreadPoolExecutor pool;

    public TaskPoller(ClientGateway gateway, GrpcTransportProperties properties) {
        this.gateway = gateway;
        this.maxWait = properties.maxPollWait();
        AtomicInteger n = new AtomicInteger();
        this.pool = new ThreadPoolExecutor(properties.pollThreads(), properties.pollThreads(), 60, TimeUnit.SECONDS,
                properties.pollQueue() == 0 ? new SynchronousQueue<>() : new ArrayBlockingQueue<>(properties.pollQueue()),
                r -> {
                    Thread t = new Thread(r, "fedlora-task-poll-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        this.pool.allowCoreThreadTimeOut(true);
    }

    /** Answers {@code request} on {@code out} from a pool thread once the gateway has work or the wait ends. */
    void poll(AuthenticatedClient client, TaskRequest request, ServerCallStreamObserver<TaskResponse> out) {
        Duration wait = effectiveWait(request.getWaitMs(), Context.current().getDeadline());
        AtomicReference<Future<?>> running = new AtomicReference<>();
        out.setOnCancelHandler(() -> {
            Future<?> f = running.get();
            if (f != null) {
                f.cancel(true);
            }
        });
        try {
            running.set(pool.submit(() -> answer(client, request.getCachedModelVersion(), wait, out)));
        } catch (RejectedExecutionException e) {
            log.warn("Refusing a task poll from client {}: all {} poll threads and the queue are busy",
                    client.clientId(), pool.getMaximumPoolSize());
            out.onError(Status.RESOURCE_EXHAUSTED.withDescription("the coordinator is serving too many task polls; "
                    + "retry later").asRuntimeException());
            return;
        }
        if (out.isCancelled()) {
            running.get().cancel(true);
        }
    }

    private void answer(AuthenticatedClient client, long cachedVersion, Duration wait,
            ServerCallStreamObserver<TaskResponse> out) {
        TaskResponse response;
        try {
            Optional<ClientTask> task = gateway.pollTask(client, cachedVersion, wait);
            response = task.map(ProtoMapping::toResponse).orElseGet(ProtoMapping::waitResponse);
        } catch (RuntimeException e) {
            if (Thread.currentThread().isInterrupted() || out.isCancelled()) {
                return;
            }
            fail(out, e);
            return;
        }
        synchronized (out) {
            if (!out.isCancelled()) {
                out.onNext(response);
                out.onCompleted();
            }
        }
    }

    private static void fail(ServerCallStreamObserver<TaskResponse> out, RuntimeException e) {
        synchronized (out) {
            if (!out.isCancelled()) {
                out.onError(GrpcStatusMapper.toStatus(e, "GetTask"));
            }
        }
    }

    /** min(requested, configured cap, deadline - margin), never negative. */
    Duration effectiveWait(int requestedMs, Deadline deadline) {
        long ms = Math.min(Math.max(requestedMs, 0), maxWait.toMillis());
        if (deadline != null) {
            ms = Math.min(ms, deadline.timeRemaining(TimeUnit.MILLISECONDS) - DEADLINE_MARGIN_MS);
        }
        return Duration.ofMillis(Math.max(ms, 0));
    }

    @Override
    public void destroy() {
        pool.shutdownNow();
    }
}
