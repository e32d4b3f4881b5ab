package io.fedlora.coordinator.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.proto.v1.DType;
import io.fedlora.proto.v1.FederationGrpc;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.TensorRole;
import io.fedlora.proto.v1.UpdateChunk;
import io.fedlora.proto.v1.UpdateHeader;
import io.fedlora.proto.v1.UploadReply;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.util.unit.DataSize;

/**
 * The Upload call tells its client when to send: queued while other uploads hold the room, admitted once it may send
 * its data, a receipt on the header for an update already accepted, a refusal on the header, so a client that waits
 * as told never sends tensor bytes the coordinator cannot take yet.
 */
class UploadCallTest {

    private final InMemoryGateway gateway = new InMemoryGateway();
    private final ExecutorService background = Executors.newSingleThreadExecutor();
    private Server server;
    private ManagedChannel channel;
    private TestAgent agent;

    @BeforeEach
    void start() throws Exception {
        // one upload in flight at a time
        GrpcTransportProperties props = new GrpcTransportProperties(DataSize.ofMegabytes(8), Duration.ofSeconds(1),
                100, 4, 1, 32, 1, DataSize.ofMegabytes(64), DataSize.ofKilobytes(64), DataSize.ofMegabytes(1),
                Duration.ofSeconds(7));
        var service = new FederationGrpcService(gateway, new TaskPoller(gateway, props),
                new GrpcMetrics(new SimpleMeterRegistry()), props);
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(ServerInterceptors.intercept(service, new BearerAuthInterceptor(gateway))).build().start();
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
        agent = TestAgent.connect(server.getPort());
        agent.enrol(InMemoryGateway.TOKEN, "first");
    }

    @AfterEach
    void stop() throws Exception {
        gateway.holdAccept = null;
        background.shutdownNow();
        agent.close();
        channel.shutdownNow();
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    @Test
    void anUploadBehindAnotherIsQueuedThenAdmittedWhenTheOneAheadEnds() throws Exception {
        gateway.holdAccept = new CountDownLatch(1);
        var held = background.submit(() -> agent.upload(GrpcWireTest.upload("u-held", 1)));
        awaitAcceptEntered();

        RawUpload waiting = RawUpload.open(channel, agent.credential());
        waiting.send(header("u-waiting", 1));
        UploadReply first = waiting.next();
        assertThat(first.getPartCase()).isEqualTo(UploadReply.PartCase.QUEUED);
        assertThat(first.getQueued().getAhead()).as("the held upload is ahead").isEqualTo(1);
        assertThat(waiting.replies.poll(500, TimeUnit.MILLISECONDS)).as("not admitted while the room is taken").isNull();

        gateway.holdAccept.countDown();
        assertThat(held.get(30, TimeUnit.SECONDS).getDuplicate()).isFalse();
        assertThat(waiting.next().getPartCase()).isEqualTo(UploadReply.PartCase.ADMITTED);
        assertThat(waiting.ended).isNotDone();
        waiting.requests.cancel("test over", null);
    }

    @Test
    void anUploadWithRoomIsAdmittedAtOnceAndAnAgentStyleUploadCompletes() throws Exception {
        RawUpload call = RawUpload.open(channel, agent.credential());
        call.send(header("u-room", 1));
        assertThat(call.next().getPartCase()).isEqualTo(UploadReply.PartCase.ADMITTED);
        call.requests.cancel("test over", null);

        assertThat(agent.upload(GrpcWireTest.upload("u-whole", 1)).getDuplicate()).isFalse();
        assertThat(gateway.acceptEntered).hasValue(1);
    }

    @Test
    void aRetryOfAnAcceptedUpdateIsAnsweredOnItsHeaderWithNoDataSent() throws Exception {
        String firstId = agent.upload(GrpcWireTest.upload("u-once", 1)).getUpdateId();

        RawUpload retry = RawUpload.open(channel, agent.credential());
        retry.send(header("u-once", 1));
        UploadReply reply = retry.next();
        assertThat(reply.getPartCase()).isEqualTo(UploadReply.PartCase.RECEIPT);
        assertThat(reply.getReceipt().getDuplicate()).isTrue();
        assertThat(reply.getReceipt().getUpdateId()).isEqualTo(firstId);
        assertThat(retry.ended.get(10, TimeUnit.SECONDS)).as("the call ends with OK").isNull();
        assertThat(gateway.acceptEntered).as("accepted once").hasValue(1);
    }

    @Test
    void aRefusedHeaderEndsTheCallBeforeAnyDataIsAskedFor() throws Exception {
        RawUpload call = RawUpload.open(channel, agent.credential());
        call.send(header("u-late", 2));
        Throwable error = call.ended.get(10, TimeUnit.SECONDS);
        assertThat(Status.fromThrowable(error).getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
        assertThat(call.replies).as("neither queued nor admitted").isEmpty();
    }

    private void awaitAcceptEntered() throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (gateway.acceptEntered.get() < 1 && System.nanoTime() < end) {
            Thread.sleep(20);
        }
        assertThat(gateway.acceptEntered).as("the first upload is in flight").hasValue(1);
    }

    private static UpdateChunk header(String uploadId, int round) {
        return UpdateChunk.newBuilder().setHeader(UpdateHeader.newBuilder().setFederationId(InMemoryGateway.FEDERATION)
                .setRound(round).setUploadId(uploadId).setNumExamples(3).addTensors(TensorMeta.newBuilder()
                        .setName("h.0.attn.c_attn.lora_B").setModule("h.0.attn.c_attn").setRole(TensorRole.LORA_B)
                        .setDtype(DType.F32).addShape(48).addShape(4).setByteSize(48 * 4 * 4)
                        .setSha256("00".repeat(32)))).build();
    }

    /** One Upload call driven by hand: what the server answered, and how the call ended (null: OK). */
    private static final class RawUpload implements ClientResponseObserver<UpdateChunk, UploadReply> {
        final BlockingQueue<UploadReply> replies = new LinkedBlockingQueue<>();
        final CompletableFuture<Throwable> ended = new CompletableFuture<>();
        ClientCallStreamObserver<UpdateChunk> requests;

        static RawUpload open(ManagedChannel channel, String credential) {
            Metadata md = new Metadata();
            md.put(BearerAuthInterceptor.AUTHORIZATION, "Bearer " + credential);
            RawUpload call = new RawUpload();
            FederationGrpc.newStub(ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(md)))
                    .withDeadlineAfter(60, TimeUnit.SECONDS).upload(call);
            return call;
        }

        void send(UpdateChunk chunk) {
            requests.onNext(chunk);
        }

        UploadReply next() throws InterruptedException {
            UploadReply r = replies.poll(10, TimeUnit.SECONDS);
            assertThat(r).as("a reply within 10 s").isNotNull();
            return r;
        }

        @Override
        public void beforeStart(ClientCallStreamObserver<UpdateChunk> requestStream) {
            requests = requestStream;
        }

        @Override
        public void onNext(UploadReply value) {
            replies.add(value);
        }

        @Override
        public void onError(Throwable t) {
            ended.complete(t);
        }

        @Override
        public void onCompleted() {
            ended.complete(null);
        }
    }
}
