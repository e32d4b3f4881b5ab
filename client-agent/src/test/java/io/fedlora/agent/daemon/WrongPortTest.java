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
        try (ServerSocket http = serve("http-1.1", connections, s -> {
            s.getInputStream().read(new byte[256]);
            OutputStream out = s.getOutputStream();
            out.write("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
        })) {
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

    /**
     * Tomcat (the coordinator's REST port) closes a connection that opens with the HTTP/2 preface without answering,
     * which gRPC reports only as "Network closed for unknown reason", the same as a restarting coordinator. The agent
     * then asks the address once in HTTP/1.1, and an HTTP/1.x answer makes it a wrong port.
     */
    @Test
    void aServerThatDropsTheHttp2PrefaceButAnswersHttp1IsReportedAsNotTheGrpcPort(@TempDir Path dir) throws Exception {
        AtomicInteger connections = new AtomicInteger();
        try (ServerSocket http = serve("tomcat-like", connections, s -> {
            byte[] head = new byte[3];
            int n = s.getInputStream().readNBytes(head, 0, 3);
            if (n == 3 && new String(head, StandardCharsets.US_ASCII).equals("GET")) {
                s.getOutputStream().write("HTTP/1.1 404 \r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .getBytes(StandardCharsets.US_ASCII));
                s.getOutputStream().flush();
            }
            // anything else (the HTTP/2 preface "PRI * HTTP/2.0"): closed without a byte, as Tomcat does
        })) {
            String target = "127.0.0.1:" + http.getLocalPort();
            ManagedChannel channel = NettyChannelBuilder.forTarget(target).usePlaintext().build();
            try {
                CoordinatorClient client = new CoordinatorClient(channel, TestSupport.props(target, dir, dir, "t"));
                assertTimeoutPreemptively(Duration.ofSeconds(30), () -> assertThatThrownBy(() -> client.getTask(-1))
                        .isInstanceOf(NotGrpcServiceException.class)
                        .hasMessageContaining("no gRPC service at " + target)
                        .hasMessageContaining("it answers HTTP/1.x ('HTTP/1.1 404 '), as the coordinator's REST port does"));
                assertThat(connections.get()).as("one gRPC attempt and one HTTP/1.1 question").isBetween(2, 4);
            } finally {
                channel.shutdownNow();
            }
        }
    }

    /** A peer that drops every connection and never answers HTTP/1.x either may be a coordinator restarting: retried. */
    @Test
    void aServerThatDropsEveryConnectionIsRetriedNotReportedAsTheWrongPort(@TempDir Path dir) throws Exception {
        AtomicInteger connections = new AtomicInteger();
        try (ServerSocket silent = serve("silent", connections, s -> s.getInputStream().read(new byte[64]))) {
            String target = "127.0.0.1:" + silent.getLocalPort();
            ManagedChannel channel = NettyChannelBuilder.forTarget(target).usePlaintext().build();
            try {
                CoordinatorClient client = new CoordinatorClient(channel, TestSupport.props(target, dir, dir, "t"));
                Thread poll = new Thread(() -> {
                    try {
                        client.getTask(-1);
                    } catch (Exception e) {
                        // interrupted at the end of the test
                    }
                }, "poll");
                poll.start();
                long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                while (connections.get() < 5 && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
                assertThat(poll.isAlive()).as("still retrying after %d connections", connections.get()).isTrue();
                assertThat(connections.get()).as("it went on retrying").isGreaterThanOrEqualTo(5);
                poll.interrupt();
                poll.join(10_000);
            } finally {
                channel.shutdownNow();
            }
        }
    }

    /** What the test's server does with one accepted connection before closing it. */
    private interface Connection {
        void handle(Socket s) throws IOException;
    }

    /** A loopback server answering each connection with {@code handler} on a daemon thread, counting connections. */
    private static ServerSocket serve(String name, AtomicInteger connections, Connection handler) throws IOException {
        ServerSocket socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread server = new Thread(() -> {
            while (!socket.isClosed()) {
                try (Socket s = socket.accept()) {
                    connections.incrementAndGet();
                    handler.handle(s);
                } catch (IOException e) {
                    return;
                }
            }
        }, name);
        server.setDaemon(true);
        server.start();
        return socket;
    }
}
