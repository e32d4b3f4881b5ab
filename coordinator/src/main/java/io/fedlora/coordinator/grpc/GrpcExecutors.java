package io.fedlora.coordinator.grpc;

import io.grpc.netty.NettyServerBuilder;
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
 * so a bounded pool only queues work; HTTP/2 flow control holds back what it has not read yet.
 */
@Component
class GrpcExecutors implements ServerBuilderCustomizer<NettyServerBuilder>, DisposableBean {

    private final ThreadPoolExecutor handlers;

    GrpcExecutors(GrpcTransportProperties properties) {
        this.handlers = fixed(properties.handlerThreads(), "fedlora-grpc-");
    }

    @Override
    public void customize(NettyServerBuilder builder) {
        builder.executor(handlers);
    }

    @Override
    public void destroy() {
        handlers.shutdown();
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
