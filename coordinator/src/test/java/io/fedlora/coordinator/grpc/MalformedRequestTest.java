package io.fedlora.coordinator.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.fedlora.proto.v1.EnrolRequest;
import io.fedlora.proto.v1.FederationGrpc;
import io.fedlora.proto.v1.UpdateChunk;
import io.fedlora.proto.v1.UpdateHeader;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import org.springframework.util.unit.DataSize;

/**
 * Bytes that are not a valid message, sent over a real channel with a byte-array marshaller: every such call
 * answers INVALID_ARGUMENT with the parse failure as reason, logged at WARN without a stack trace, and nothing
 * reaches gRPC's own error log (which answered UNKNOWN and logged an ERROR stack trace before).
 */
class MalformedRequestTest {

    private static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    };

    private InMemoryGateway gateway;
    private SimpleMeterRegistry registry;
    private TaskPoller poller;
    private Server server;
    private TestAgent agent;
    private ManagedChannel channel;
    private ListAppender<ILoggingEvent> guardLog;
    private final List<LogRecord> grpcSevere = new CopyOnWriteArrayList<>();
    private final Handler julCapture = new Handler() {
        @Override
        public void publish(LogRecord r) {
            if (r.getLevel().intValue() >= java.util.logging.Level.WARNING.intValue()) {
                grpcSevere.add(r);
            }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    };

    @BeforeEach
    void start() throws IOException {
        gateway = new InMemoryGateway();
        registry = new SimpleMeterRegistry();
        GrpcTransportProperties props = new GrpcTransportProperties(DataSize.ofBytes(256 * 1024),
                Duration.ofMillis(800), 2, 4, 1, 32, 8, DataSize.ofMegabytes(64), DataSize.ofKilobytes(64), DataSize.ofMegabytes(1), Duration.ofSeconds(7));
        GrpcMetrics metrics = new GrpcMetrics(registry);
        poller = new TaskPoller(gateway, props);
        var service = new FederationGrpcService(gateway, poller, metrics, props);
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(ServerInterceptors.intercept(service,
                        new BearerAuthInterceptor(gateway), new ByteCountingInterceptor(metrics)))
                .build().start();
        agent = TestAgent.connect(server.getPort());
        agent.enrol(InMemoryGateway.TOKEN, "alpha");
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext().build();
        guardLog = new ListAppender<>();
        guardLog.start();
        ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger(MalformedRequestGuard.class)).addAppender(guardLog);
        java.util.logging.Logger.getLogger("io.grpc").addHandler(julCapture);
    }

    @AfterEach
    void stop() throws InterruptedException {
        java.util.logging.Logger.getLogger("io.grpc").removeHandler(julCapture);
        ((ch.qos.logback.classic.Logger) LoggerFactory.getLogger(MalformedRequestGuard.class)).detachAppender(guardLog);
        channel.shutdownNow();
        agent.close();
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    @Test
    void garbageUploadFrameAfterAValidHeaderIsInvalidArgument() throws Exception {
        byte[] header = validHeader().toByteArray();
        byte[] garbage = {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f, 0x01, 0x02};
        Status s = call(FederationGrpc.getUploadUpdateMethod(), agent.credential(), header, garbage);

        assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(s.getDescription()).contains("UploadUpdate request frame is not a valid message");
        assertLoggedOnceAtWarnWithoutStackTrace();
        assertThat(registry.get("fedlora.updates.rejected").tag("reason", "malformed").counter().count()).isEqualTo(1);
        assertThat(gateway.stored).isEmpty();
        // the connection and the client stay usable
        assertThat(agent.heartbeat("idle", -1).getIntervalMs()).isEqualTo(7000);
    }

    @Test
    void truncatedUploadMessageIsInvalidArgument() throws Exception {
        byte[] header = validHeader().toByteArray();
        byte[] truncated = Arrays.copyOf(header, header.length / 2);
        Status s = call(FederationGrpc.getUploadUpdateMethod(), agent.credential(), truncated);

        assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(s.getDescription()).contains("not a valid message");
        assertLoggedOnceAtWarnWithoutStackTrace();
        assertThat(gateway.checkUploadCalls).hasValue(0);
    }

    @Test
    void garbageUnaryRequestIsInvalidArgumentToo() throws Exception {
        byte[] enrol = EnrolRequest.newBuilder().setEnrolmentToken("t").setClientName("beta").build().toByteArray();
        byte[] broken = Arrays.copyOf(enrol, enrol.length - 2);
        Status s = call(FederationGrpc.getEnrolMethod(), null, broken);

        assertThat(s.getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(s.getDescription()).contains("Enrol request frame is not a valid message");
        assertLoggedOnceAtWarnWithoutStackTrace();
    }

    private void assertLoggedOnceAtWarnWithoutStackTrace() {
        assertThat(guardLog.list).hasSize(1);
        ILoggingEvent e = guardLog.list.get(0);
        assertThat(e.getLevel()).isEqualTo(Level.WARN);
        assertThat(e.getThrowableProxy()).isNull();
        assertThat(grpcSevere).as("gRPC's own warnings/errors").isEmpty();
    }

    private static UpdateHeader validHeader() {
        return UpdateHeader.newBuilder().setFederationId(InMemoryGateway.FEDERATION).setRound(1).setUploadId("u-raw")
                .setNumExamples(10).setBaseModelVersion(0).build();
    }

    /** Sends {@code frames} as raw messages on {@code method} and returns the status the call closed with. */
    private Status call(MethodDescriptor<?, ?> method, String credential, byte[]... frames) throws Exception {
        MethodDescriptor<byte[], byte[]> raw = MethodDescriptor.<byte[], byte[]>newBuilder()
                .setType(method.getType()).setFullMethodName(method.getFullMethodName())
                .setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();
        ClientCall<byte[], byte[]> call = channel.newCall(raw, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS));
        CompletableFuture<Status> closed = new CompletableFuture<>();
        Metadata headers = new Metadata();
        if (credential != null) {
            headers.put(BearerAuthInterceptor.AUTHORIZATION, "Bearer " + credential);
        }
        call.start(new ClientCall.Listener<>() {
            @Override
            public void onClose(Status status, Metadata trailers) {
                closed.complete(status);
            }
        }, headers);
        call.request(1);
        for (byte[] f : frames) {
            call.sendMessage(f);
        }
        call.halfClose();
        return closed.get(10, TimeUnit.SECONDS);
    }
}
