package io.fedlora.coordinator.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.proto.v1.EnrolRequest;
import io.fedlora.proto.v1.EnrolResponse;
import io.fedlora.proto.v1.FederationGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.springframework.util.unit.DataSize;

/**
 * The server's executors as {@link GrpcExecutors} configures them: with every shared handler thread held by slow
 * calls (enrolments stuck on the database, say), a heartbeat is still answered at once on its own pool, instead of
 * queueing behind them; the held calls complete once released.
 */
class GrpcExecutorsTest {

    private static final int HANDLERS = 3;

    @Test
    void heartbeatsAreAnsweredWhileEveryHandlerThreadIsBusy() throws Exception {
        InMemoryGateway gateway = new InMemoryGateway();
        GrpcTransportProperties props = new GrpcTransportProperties(DataSize.ofKilobytes(256), Duration.ofSeconds(1),
                100, HANDLERS, 1, 32, 8, DataSize.ofMegabytes(64), DataSize.ofKilobytes(64), DataSize.ofMegabytes(1), Duration.ofSeconds(7));
        GrpcMetrics metrics = new GrpcMetrics(new SimpleMeterRegistry());
        var service = new FederationGrpcService(gateway, new TaskPoller(gateway, props), metrics, props);
        GrpcExecutors executors = new GrpcExecutors(props);
        NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(ServerInterceptors.intercept(service, new BearerAuthInterceptor(gateway)));
        executors.customize(builder);
        Server server = builder.build().start();
        ManagedChannel slow = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
        try (TestAgent agent = TestAgent.connect(server.getPort())) {
            agent.enrol(InMemoryGateway.TOKEN, "beating");

            CountDownLatch gate = new CountDownLatch(1);
            gateway.enrolGate = gate;
            AtomicInteger enrolled = new AtomicInteger();
            CountDownLatch done = new CountDownLatch(2 * HANDLERS);
            for (int i = 0; i < 2 * HANDLERS; i++) {
                FederationGrpc.newStub(slow).withDeadlineAfter(60, TimeUnit.SECONDS).enrol(EnrolRequest.newBuilder()
                        .setEnrolmentToken(InMemoryGateway.TOKEN).setClientName("slow-" + i).build(), new StreamObserver<>() {
                            @Override public void onNext(EnrolResponse r) {
                                enrolled.incrementAndGet();
                            }
                            @Override public void onError(Throwable t) {
                                done.countDown();
                            }
                            @Override public void onCompleted() {
                                done.countDown();
                            }
                        });
            }
            Thread.sleep(500); // the held enrolments have taken every handler thread; the rest queue
            assertThat(enrolled).hasValue(0);

            long t0 = System.nanoTime();
            for (int i = 0; i < 5; i++) {
                // a 2 s deadline: queued behind the held calls, the heartbeat would never be answered in time
                assertThat(agent.heartbeat("idle", -1, 2000).getIntervalMs()).isEqualTo(7000);
            }
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertThat(ms).as("5 heartbeats with all %d handler threads held", HANDLERS).isLessThan(2000);
            assertThat(gateway.heartbeats).hasSize(5);

            gate.countDown();
            assertThat(done.await(30, TimeUnit.SECONDS)).isTrue();
            assertThat(enrolled).hasValue(2 * HANDLERS);
        } finally {
            slow.shutdownNow();
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            executors.destroy();
        }
    }
}
