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
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/**
 * Serves GetTask long polls asynchronously: the call is handed to {@link ClientGateway#startTaskPoll} and answered
 * from whichever thread completes it, so a waiting poll holds no thread (gRPC's handler returns at once). The wait
 * is capped by {@code fedlora.grpc.max-poll-wait} and by the call's deadline; a cancelled call (agent gone, deadline
 * passed) cancels its poll. Polls beyond {@code fedlora.grpc.max-waiting-polls} are refused with RESOURCE_EXHAUSTED,
 * a guard on memory rather than threads (the gateway keeps one poll per client anyway).
 */
@Component
public class TaskPoller {

    private static final Logger log = LoggerFactory.getLogger(TaskPoller.class);
    /** Time kept back from the caller's deadline so the WAIT answer still reaches it. */
    private static final long DEADLINE_MARGIN_MS = 250;

    private final ClientGateway gateway;
    private final Duration maxWait;
    private final int maxWaiting;
    private final AtomicInteger waiting = new AtomicInteger();

    public TaskPoller(ClientGateway gateway, GrpcTransportProperties properties) {
        this.gateway = gateway;
        this.maxWait = properties.maxPollWait();
        this.maxWaiting = properties.maxWaitingPolls();
    }

    /** Starts answering {@code request} on {@code out}; returns at once. */
    void poll(AuthenticatedClient client, TaskRequest request, ServerCallStreamObserver<TaskResponse> out) {
        Duration wait = effectiveWait(request.getWaitMs(), Context.current().getDeadline());
        if (waiting.incrementAndGet() > maxWaiting) {
            waiting.decrementAndGet();
            log.warn("Refusing a task poll from client {}: {} polls are waiting already", client.clientId(), maxWaiting);
            out.onError(Status.RESOURCE_EXHAUSTED.withDescription("the coordinator is serving too many task polls; "
                    + "retry later").asRuntimeException());
            return;
        }
        AtomicReference<CompletableFuture<?>> poll = new AtomicReference<>();
        out.setOnCancelHandler(() -> {
            CompletableFuture<?> p = poll.get();
            if (p != null) {
                p.cancel(false);
            }
        });
        CompletableFuture<Optional<ClientTask>> started;
        try {
            started = gateway.startTaskPoll(client, request.getCachedModelVersion(), wait);
        } catch (RuntimeException e) {
            waiting.decrementAndGet();
            answer(out, null, e);
            return;
        }
        poll.set(started);
        started.whenComplete((task, error) -> {
            waiting.decrementAndGet();
            answer(out, task, error);
        });
        if (out.isCancelled()) {
            started.cancel(false);
        }
    }

    /** Polls started and not yet answered. */
    int waiting() {
        return waiting.get();
    }

    private static void answer(ServerCallStreamObserver<TaskResponse> out, Optional<ClientTask> task, Throwable error) {
        Throwable cause = error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
        if (cause instanceof CancellationException) {
            return; // the call was cancelled: nobody to answer
        }
        synchronized (out) {
            if (out.isCancelled()) {
                return;
            }
            if (cause == null) {
                out.onNext(task.map(ProtoMapping::toResponse).orElseGet(ProtoMapping::waitResponse));
                out.onCompleted();
            } else if (cause instanceof RuntimeException e) {
                out.onError(GrpcStatusMapper.toStatus(e, "GetTask"));
            } else {
                out.onError(Status.INTERNAL.withDescription("GetTask failed").withCause(cause).asRuntimeException());
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
}
