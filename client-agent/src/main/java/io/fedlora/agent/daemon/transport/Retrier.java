package io.fedlora.agent.daemon.transport;

import io.fedlora.agent.daemon.AgentProperties;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Repeats a call while the coordinator is away (UNAVAILABLE, DEADLINE_EXCEEDED, ABORTED), waiting with
 * exponential backoff and jitter between attempts so that many agents do not hammer a restarting
 * coordinator in lock step; task polls also wait out RESOURCE_EXHAUSTED (the coordinator's poll pool is
 * full). Any other status is the coordinator's answer and is thrown at once. A peer that is evidently not a
 * gRPC server (a wrong port) is not retried: {@link NotGrpcServiceException} says so. A peer that accepts the
 * connection and closes it without a word (Tomcat on the REST port does) is asked once over HTTP/1.1
 * ({@link HttpPortProbe}); only an HTTP/1.x answer makes it a wrong port, anything else is retried as usual.
 */
public final class Retrier {

    private static final Logger log = LoggerFactory.getLogger(Retrier.class);
    private static final Set<Status.Code> RETRYABLE =
            EnumSet.of(Status.Code.UNAVAILABLE, Status.Code.DEADLINE_EXCEEDED, Status.Code.ABORTED);

    private static final Set<Status.Code> POLL_RETRYABLE = EnumSet.of(Status.Code.UNAVAILABLE,
            Status.Code.DEADLINE_EXCEEDED, Status.Code.ABORTED, Status.Code.RESOURCE_EXHAUSTED);

    /** How gRPC reports a peer that accepted the connection and closed it before speaking HTTP/2. */
    private static final String CLOSED_SILENTLY = "Network closed for unknown reason";

    private final AgentProperties.Retry policy;
    private final String target;
    private final HttpPortProbe probe;
    /** Whether a silent close was already probed: a gRPC server that drops a connection is asked only once. */
    private volatile boolean probed;

    /** {@code target} ("host:port") names the coordinator in errors. */
    public Retrier(AgentProperties.Retry policy, String target) {
        this(policy, target, new HttpPortProbe(Duration.ofSeconds(3)));
    }

    Retrier(AgentProperties.Retry policy, String target, HttpPortProbe probe) {
        this.policy = policy;
        this.target = target;
        this.probe = probe;
    }

    /** True for the statuses that mean "try again later" rather than "no". */
    public static boolean isRetryable(Status status) {
        return RETRYABLE.contains(status.getCode());
    }

    /** Calls {@code call} until it succeeds, fails with a non-retryable status, or {@code maxElapsed} passes. */
    public <T> T call(String what, Supplier<T> call) throws InterruptedException {
        return call(what, call, policy.maxElapsed(), RETRYABLE);
    }

    /** Like {@link #call(String, Supplier)} but never gives up on a retryable status (until interrupted). */
    public <T> T callUntilAnswered(String what, Supplier<T> call) throws InterruptedException {
        return call(what, call, null, RETRYABLE);
    }

    /** A task poll: never gives up while the coordinator is away or busy (RESOURCE_EXHAUSTED too). */
    public <T> T pollUntilAnswered(String what, Supplier<T> call) throws InterruptedException {
        return call(what, call, null, POLL_RETRYABLE);
    }

    private <T> T call(String what, Supplier<T> call, Duration maxElapsed, Set<Status.Code> retryable)
            throws InterruptedException {
        long start = System.nanoTime();
        for (int attempt = 0; ; attempt++) {
            try {
                return call.get();
            } catch (StatusRuntimeException e) {
                if (Thread.currentThread().isInterrupted()) {
                    throw new InterruptedException(what + " interrupted");
                }
                if (NotGrpcServiceException.isNotGrpc(e.getStatus())) {
                    throw new NotGrpcServiceException(target, e);
                }
                if (!probed && closedSilently(e.getStatus())) {
                    probed = true;
                    var http = probe.statusLine(target);
                    if (http.isPresent()) {
                        throw new NotGrpcServiceException(target, e, "it answers HTTP/1.x ('" + http.get()
                                + "'), as the coordinator's REST port does");
                    }
                }
                if (!retryable.contains(e.getStatus().getCode())) {
                    throw e;
                }
                Duration wait = delay(attempt);
                long elapsedNanos = System.nanoTime() - start;
                if (maxElapsed != null && elapsedNanos + wait.toNanos() > maxElapsed.toNanos()) {
                    log.warn("{} failed ({}); giving up after {} attempts", what, describe(e.getStatus()), attempt + 1);
                    throw e;
                }
                log.warn("{} failed ({}); attempt {} - retrying in {} ms", what, describe(e.getStatus()),
                        attempt + 1, wait.toMillis());
                Thread.sleep(wait.toMillis());
            }
        }
    }

    private static boolean closedSilently(Status status) {
        return status.getCode() == Status.Code.UNAVAILABLE && status.getDescription() != null
                && status.getDescription().contains(CLOSED_SILENTLY);
    }

    /** Backoff before retry number {@code attempt + 1}: uniform in [d/2, d], d growing geometrically to the cap. */
    Duration delay(int attempt) {
        double base = policy.initialBackoff().toMillis() * Math.pow(policy.multiplier(), Math.min(attempt, 60));
        double capped = Math.min(base, policy.maxBackoff().toMillis());
        double jittered = capped / 2 + ThreadLocalRandom.current().nextDouble() * capped / 2;
        return Duration.ofMillis(Math.max(1, Math.round(jittered)));
    }

    /** Code, description and (for transport failures such as "io exception") the underlying cause. */
    public static String describe(Status status) {
        StringBuilder s = new StringBuilder(status.getCode().toString());
        if (status.getDescription() != null) {
            s.append(": ").append(status.getDescription());
        }
        Throwable cause = status.getCause();
        while (cause != null && cause.getCause() != null && cause.getMessage() == null) {
            cause = cause.getCause();
        }
        if (cause != null && cause.getMessage() != null) {
            s.append(" (").append(cause.getMessage()).append(')');
        }
        return s.toString();
    }
}
