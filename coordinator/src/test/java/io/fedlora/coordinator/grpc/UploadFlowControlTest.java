package io.fedlora.coordinator.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.fedlora.proto.v1.DType;
import io.fedlora.proto.v1.FederationGrpc;
import io.fedlora.proto.v1.TensorData;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.UpdateChunk;
import io.fedlora.proto.v1.UpdateHeader;
import io.fedlora.proto.v1.UploadReceipt;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.util.unit.DataSize;

/**
 * An upload waiting for admission is slowed by HTTP/2 flow control: its client can push about the coordinator's
 * inbound window ({@link GrpcInboundWindow}, 64 KiB here) and is then held (not ready) until the upload is admitted,
 * instead of the coordinator buffering the whole upload; it is not refused.
 */
class UploadFlowControlTest {

    private static final int WINDOW = 64 * 1024;
    private static final int DECLARED = 4 * 1024 * 1024;

    @Test
    void aWaitingUploadsClientIsHeldBackAfterAboutOneWindow() throws Exception {
        InMemoryGateway gateway = new InMemoryGateway();
        GrpcTransportProperties props = new GrpcTransportProperties(DataSize.ofMegabytes(8), Duration.ofSeconds(1),
                100, 4, 1, 32, 1, DataSize.ofMegabytes(64), DataSize.ofBytes(WINDOW), DataSize.ofMegabytes(1),
                Duration.ofSeconds(7));
        var service = new FederationGrpcService(gateway, new TaskPoller(gateway, props),
                new GrpcMetrics(new SimpleMeterRegistry()), props);
        NettyServerBuilder builder = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(ServerInterceptors.intercept(service, new BearerAuthInterceptor(gateway)));
        new GrpcInboundWindow(props).customize(builder);
        Server server = builder.build().start();
        ExecutorService first = Executors.newSingleThreadExecutor();
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
        try (TestAgent agent = TestAgent.connect(server.getPort())) {
            agent.enrol(InMemoryGateway.TOKEN, "first");
            gateway.holdAccept = new CountDownLatch(1);
            var held = first.submit(() -> agent.upload(GrpcWireTest.upload("u-held", 1)));
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (gateway.acceptEntered.get() < 1 && System.nanoTime() < end) {
                Thread.sleep(20);
            }
            assertThat(gateway.acceptEntered).as("the first upload is in flight").hasValue(1);

            Metadata md = new Metadata();
            md.put(BearerAuthInterceptor.AUTHORIZATION, "Bearer " + agent.credential());
            var stub = FederationGrpc.newStub(ClientInterceptors.intercept(ch, MetadataUtils.newAttachHeadersInterceptor(md)));
            CompletableFuture<ClientCallStreamObserver<UpdateChunk>> call = new CompletableFuture<>();
            CompletableFuture<Throwable> ended = new CompletableFuture<>();
            stub.uploadUpdate(new ClientResponseObserver<UpdateChunk, UploadReceipt>() {
                @Override public void beforeStart(ClientCallStreamObserver<UpdateChunk> requestStream) {
                    call.complete(requestStream);
                }
                @Override public void onNext(UploadReceipt r) {
                }
                @Override public void onError(Throwable t) {
                    ended.complete(t);
                }
                @Override public void onCompleted() {
                    ended.complete(null);
                }
            });
            ClientCallStreamObserver<UpdateChunk> out = call.get(10, TimeUnit.SECONDS);
            out.onNext(UpdateChunk.newBuilder().setHeader(UpdateHeader.newBuilder().setFederationId(InMemoryGateway.FEDERATION)
                    .setRound(1).setUploadId("u-waiting").setNumExamples(3).addTensors(TensorMeta.newBuilder()
                            .setName("h.0.attn.c_attn.lora_B").setModule("h.0.attn.c_attn")
                            .setRole(io.fedlora.proto.v1.TensorRole.LORA_B).setDtype(DType.F32)
                            .addShape(DECLARED / 4).setByteSize(DECLARED).setSha256("00".repeat(32)))).build());
            long sent = 0;
            byte[] piece = new byte[16 * 1024];
            long stop = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            while (sent < DECLARED && System.nanoTime() < stop) {
                if (out.isReady()) {
                    out.onNext(UpdateChunk.newBuilder().setData(TensorData.newBuilder().setTensorIndex(0).setOffset(sent)
                            .setData(ByteString.copyFrom(piece))).build());
                    sent += piece.length;
                } else {
                    Thread.sleep(5);
                }
            }
            assertThat(gateway.checkUploadCalls).as("its header was checked").hasValue(2);
            assertThat(sent).as("bytes its client could send while it waits for admission")
                    .isLessThan(4L * WINDOW);
            assertThat(out.isReady()).isFalse();
            assertThat(ended).as("waiting, not refused").isNotDone();

            out.cancel("test over", null);
            gateway.holdAccept.countDown();
            assertThat(held.get(30, TimeUnit.SECONDS).getDuplicate()).isFalse();
        } finally {
            gateway.holdAccept.countDown();
            first.shutdownNow();
            ch.shutdownNow();
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
