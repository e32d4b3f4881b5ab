package io.fedlora.coordinator.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.coordinator.support.CoordinatorTestBase;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.core.env.Environment;
import org.springframework.grpc.server.lifecycle.GrpcServerLifecycle;

/**
 * With no bind option the coordinator's two listeners (REST and gRPC) accept connections on loopback only: a
 * connection to any other address of this host is refused. (The test context sets ports, never the address.)
 */
class BindAddressTest extends CoordinatorTestBase {

    @LocalServerPort int restPort;
    @Autowired Environment env;
    @Autowired GrpcServerLifecycle grpcServer;

    private int grpcPort() {
        return grpcServer.getPort();
    }

    @Test
    void bothListenersBindLoopbackByDefault() throws Exception {
        assertThat(env.getProperty("fedlora.bind-address")).isEqualTo("127.0.0.1");
        for (int port : new int[] {restPort, grpcPort()}) {
            connect(InetAddress.getByName("127.0.0.1"), port);
            List<InetAddress> others = NetworkInterface.networkInterfaces()
                    .flatMap(NetworkInterface::inetAddresses)
                    .filter(a -> !a.isLoopbackAddress() && !a.isLinkLocalAddress())
                    .collect(java.util.stream.Collectors.toCollection(java.util.ArrayList::new));
            // even on a host with loopback only: 127.0.0.2 reaches a wildcard listener, not one bound to 127.0.0.1
            others.add(InetAddress.getByName("127.0.0.2"));
            for (InetAddress other : others) {
                assertThat(accepts(other, port)).as(other + ":" + port + " must not accept").isFalse();
            }
        }
    }

    private static boolean accepts(InetAddress address, int port) {
        try {
            connect(address, port);
            return true;
        } catch (IOException refused) {
            return false;
        }
    }

    private static void connect(InetAddress address, int port) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(address, port), 2000);
        }
    }
}
