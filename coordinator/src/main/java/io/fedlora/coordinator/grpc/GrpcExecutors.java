package io.fedlora.coordinator.grpc;

import io.fedlora.proto.v1.FederationGrpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallExecutorSupplier;
import io.grpc.netty.NettyServerBuilder;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.grpc.server.ServerBuilderCustomizer;
import org.springframework.stereotype.Component;

/**
 * The threads gRPC runs the Federation service's handlers on: a fixed pool of {@code fedlora.grpc.handler-threads}
 * instead of grpc-java's default unbounded cached pool, which grew by a thread for every call that blocked (on the
 * database, mostly) while a burst of agents arrived. No handler waits for another call (long polls hold no thread),
 * so a bounded pool only queues work; HTTP/2 flow control holds back what it has not read yet. Heartbeats run on
 * their own small pool ({@code fedlora.grpc.heartbeat-threads}; authentication included, since interceptors run on
 * the call's executor): a heartbeat is how a client stays selectable, and behind a thousand enrolments, uploads and
 * downloads queued on the shared pool it used to take tens of seconds.
 */
@Component
class GrpcExecutors implements ServerBuilderCustomizer<NettyServerBuilder>, DisposableBean {

    private static final String HEARTBEAT = FederationGrpc.getHeartbeatMethod().getFullMethodName();

    private final ThreadPoolExecutor dispatch;
    private final ThreadPoolExecutor handlers;
    private final ThreadPoolExecutor heartbeats;

    GrpcExecutors(GrpcTransportProperties properties) {
        this.dispatch = fixed(1, "fedlora-grpc-dispatch-");
        this.handlers = fixed(properties.handlerThreads(), "fedlora-grpc-");
        this.heartbeats = fixed(properties.heartbeatThreads(), "fedlora-grpc-heartbeat-");
    }

    /**
     * grpc-java looks a call's method up on the server's executor before it asks the supplier where the call runs,
     * so that executor only dispatches (a lookup never blocks) and every call then moves to its own pool; were it the
     * shared handler pool, a heartbeat's lookup would queue behind the very work it must not wait for.
     */
    @Override
    public void customize(NettyServerBuilder builder) {
        builder.executor(dispatch);
        builder.callExecutor(new ServerCallExecutorSupplier() {
            @Override
            public <Q, R> Executor getExecutor(ServerCall<Q, R> call, Metadata headers) {
                return HEARTBEAT.equals(call.getMethodDescriptor().getFullMethodName()) ? heartbeats : handlers;
            }
        });
    }

    @Override
    public void destroy() {
        dispatch.shutdown();
        handlers.shutdown();
        heartbeats.shutdown();
    }

    private static ThreadPoolExecutor fixed(int threads, String prefix) {
        AtomicInteger n = new AtomicInteger();
        ThreadFactory factory = r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        ThreadPoolExecutor pool = new ThreadPoolExecutor(threads, threads, 60, TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(), factory);
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }
}
