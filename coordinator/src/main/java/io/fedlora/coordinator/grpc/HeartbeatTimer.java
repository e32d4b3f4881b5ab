package io.fedlora.coordinator.grpc;

import io.fedlora.proto.v1.FederationGrpc;
import io.grpc.Context;
import io.grpc.Metadata;
import io.grpc.ServerStreamTracer;
import io.grpc.Status;
import io.grpc.netty.NettyServerBuilder;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.grpc.server.ServerBuilderCustomizer;
import org.springframework.stereotype.Component;

/**
 * Times every Heartbeat call on the server, so a slow heartbeat seen by a client can be placed: the coordinator, or
 * the client's side and the wire. A stream tracer sees the call from the moment the transport has read its headers
 * (on the connection's event loop) to the moment its stream closed, i.e. its answer was written; interceptors and
 * handlers would miss the wait for a heartbeat thread. Two timers, both with a percentile histogram (and a 2 s
 * bucket, the heartbeat latency target):
 * <ul>
 *   <li>{@code fedlora.grpc.heartbeat.server} (tag {@code status}): headers read to stream closed;</li>
 *   <li>{@code fedlora.grpc.heartbeat.queued}: headers read to the handler starting on its heartbeat thread (the
 *       method lookup on the dispatch executor, the wait for a heartbeat thread, authentication), marked by the
 *       handler calling {@link #handlerStarted()}; the rest of the first timer is the handler and writing the
 *       answer.</li>
 * </ul>
 */
@Component
class HeartbeatTimer implements ServerBuilderCustomizer<NettyServerBuilder> {

    static final String SERVER = "fedlora.grpc.heartbeat.server";
    static final String QUEUED = "fedlora.grpc.heartbeat.queued";
    private static final String HEARTBEAT = FederationGrpc.getHeartbeatMethod().getFullMethodName();
    private static final ServerStreamTracer UNTIMED = new ServerStreamTracer() {};
    private static final Context.Key<Timed> TIMED = Context.key("fedlora-heartbeat-timer");

    private final MeterRegistry registry;
    private final LongSupplier nanoTime;
    private final Timer queued;

    @Autowired
    HeartbeatTimer(MeterRegistry registry) {
        this(registry, System::nanoTime);
    }

    HeartbeatTimer(MeterRegistry registry, LongSupplier nanoTime) {
        this.registry = registry;
        this.nanoTime = nanoTime;
        this.queued = histogram(Timer.builder(QUEUED)
                .description("Heartbeat calls: headers read to the call starting on a heartbeat thread"));
        server(Status.Code.OK); // a series from the first scrape on, as the other meters
    }

    @Override
    public void customize(NettyServerBuilder builder) {
        builder.addStreamTracerFactory(factory());
    }

    /** A tracer per Heartbeat stream; other methods get one that records nothing. */
    ServerStreamTracer.Factory factory() {
        return new ServerStreamTracer.Factory() {
            @Override
            public ServerStreamTracer newServerStreamTracer(String fullMethodName, Metadata headers) {
                return HEARTBEAT.equals(fullMethodName) ? new Timed(nanoTime.getAsLong()) : UNTIMED;
            }
        };
    }

    /** Called by the Heartbeat handler when it starts: ends the call's {@code queued} time (once). */
    static void handlerStarted() {
        Timed t = TIMED.get();
        if (t != null) {
            t.handlerStarted();
        }
    }

    private Timer server(Status.Code code) {
        return histogram(Timer.builder(SERVER).tag("status", code.name())
                .description("Heartbeat calls on the server: headers read to stream closed"));
    }

    private Timer histogram(Timer.Builder builder) {
        return builder.publishPercentileHistogram().serviceLevelObjectives(Duration.ofSeconds(2))
                .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(60))
                .register(registry);
    }

    private final class Timed extends ServerStreamTracer {

        private final long createdNanos;
        private boolean started;

        Timed(long createdNanos) {
            this.createdNanos = createdNanos;
        }

        /** The call's context carries this tracer to its handler (the context is made on the transport thread). */
        @Override
        public Context filterContext(Context context) {
            return context.withValue(TIMED, this);
        }

        synchronized void handlerStarted() {
            if (!started) {
                started = true;
                queued.record(nanoTime.getAsLong() - createdNanos, TimeUnit.NANOSECONDS);
            }
        }

        @Override
        public void streamClosed(Status status) {
            server(status.getCode()).record(nanoTime.getAsLong() - createdNanos, TimeUnit.NANOSECONDS);
        }
    }
}
