package io.fedlora.agent.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.fedlora.agent.daemon.transport.CoordinatorClient;
import io.fedlora.agent.daemon.transport.NotGrpcServiceException;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An agent pointed at a port that answers, but not as gRPC (here a plain HTTP/1.1 server, as the coordinator's
 * REST port would), stops at once with a message naming the address and the gRPC port, instead of retrying.
 */
class WrongPortTest {

    @Test
    void anHttpServerIsReportedAsNotTheGrpcPort(@TempDir Path dir) throws Exception {
        AtomicInteger connections = new AtomicInteger();
        try (ServerSocket http = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread server = new Thread(() -> {
                while (!http.isClosed()) {
                    try (Socket s = http.accept()) {
                        connections.incrementAndGet();
                        s.getInputStream().read(new byte[256]);
                        OutputStream out = s.getOutputStream();
                        out.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                                .getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                    } catch (IOException e) {
                        return;
                    }
                }
            }, "http-1.1");
            server.setDaemon(true);
            server.start();
            String target = "127.0.0.1:" + http.getLocalPort();
            ManagedChannel channel = NettyChannelBuilder.forTarget(target).usePlaintext().build();
            try {
                CoordinatorClient client = new CoordinatorClient(channel, TestSupport.props(target, dir, dir, "t"));
                assertTimeoutPreemptively(Duration.ofSeconds(30), () -> assertThatThrownBy(() -> client.getTask(-1))
                        .isInstanceOf(NotGrpcServiceException.class)
                        .hasMessageContaining("no gRPC service at " + target)
                        .hasMessageContaining("is this the coordinator's gRPC port (default 9090)?"));
                assertThat(connections.get()).isBetween(1, 3);
            } finally {
                channel.shutdownNow();
            }
        }
    }
}
