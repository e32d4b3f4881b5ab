package io.fedlora.coordinator.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyServerBuilder;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.util.unit.DataSize;

/**
 * {@link HeartbeatTimer} on a real server with the coordinator's executors: a heartbeat is timed from its headers to
 * its stream's close, so the time it waits for the (here single) heartbeat thread counts, in both timers; calls of
 * other methods are not timed; a refused heartbeat is timed under its status.
 */
class HeartbeatTimerTest {

    @Test
    void timesHeartbeatsFromHeadersToCloseIncludingTheWaitForAHeartbeatThread() throws Exception {
        InMemoryGateway gateway = new InMemoryGateway();
        GrpcTransportProperties props = new GrpcTransportProperties(DataSize.ofKilobytes(256), Duration.ofSeconds(1),
                100, 2, 1, 32, 8, DataSize.ofMegabytes(64), DataSize.ofKilobytes(64), DataSize.ofMegabytes(1), Duration.ofSeconds(7));
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        var service = new FederationGrpcService(gateway, new TaskPoller(gateway, props),
                new GrpcMetrics(registry), props);
        GrpcExecutors executors = new GrpcExecutors(props);
        NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(ServerInterceptors.intercept(service, new BearerAuthInterceptor(gateway)));
        executors.customize(builder);
        new HeartbeatTimer(registry).customize(builder);
        Server server = builder.build().start();
        try (TestAgent agent = TestAgent.connect(server.getPort())) {
            agent.enrol(InMemoryGateway.TOKEN, "timed");
            assertThat(registry.get(HeartbeatTimer.SERVER).tag("status", "OK").timer().count())
                    .as("registered at start; Enrol is not timed").isZero();

            CountDownLatch gate = new CountDownLatch(1);
            gateway.heartbeatGate = gate;
            CompletableFuture<?> first = CompletableFuture.runAsync(() -> agent.heartbeat("first", -1));
            Thread.sleep(300); // the first holds the only heartbeat thread
            CompletableFuture<?> second = CompletableFuture.runAsync(() -> agent.heartbeat("second", -1));
            Thread.sleep(300); // the second waits for it
            gateway.heartbeatGate = null;
            gate.countDown();
            CompletableFuture.allOf(first, second).get(30, TimeUnit.SECONDS);

            Timer ok = awaitCount(registry, "OK", 2);
            assertThat(ok.max(TimeUnit.MILLISECONDS)).as("the first, held ~600 ms").isGreaterThanOrEqualTo(550);
            Timer queued = registry.get(HeartbeatTimer.QUEUED).timer();
            assertThat(queued.count()).isEqualTo(2);
            assertThat(queued.max(TimeUnit.MILLISECONDS)).as("the second waited ~300 ms for the thread")
                    .isGreaterThanOrEqualTo(250);

            assertThatThrownBy(() -> agent.withCredential("not-a-credential").heartbeat("x", -1))
                    .isInstanceOf(StatusRuntimeException.class).hasMessageContaining("UNAUTHENTICATED");
            assertThat(awaitCount(registry, "UNAUTHENTICATED", 1).count()).isEqualTo(1);
            assertThat(registry.find(HeartbeatTimer.SERVER).timers()).hasSize(2);
        } finally {
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            executors.destroy();
        }
    }

    /** The stream closes on the server just after the client has its answer. */
    private static Timer awaitCount(SimpleMeterRegistry registry, String status, long count) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            Timer t = registry.find(HeartbeatTimer.SERVER).tag("status", status).timer();
            if (t != null && t.count() >= count || System.nanoTime() > until) {
                assertThat(t).isNotNull();
                assertThat(t.count()).isEqualTo(count);
                return t;
            }
            Thread.sleep(20);
        }
    }
}
