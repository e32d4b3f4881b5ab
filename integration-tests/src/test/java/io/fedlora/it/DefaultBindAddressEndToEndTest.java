package io.fedlora.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.fedlora.demo.process.CoordinatorProcess;
import io.fedlora.it.support.EnvironmentExtension;
import io.fedlora.it.support.FederationEnvironment;
import io.fedlora.it.support.RawFederationClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/**
 * A coordinator process started with no bind option at all (no {@code --server.address},
 * {@code --spring.grpc.server.host}, {@code --fedlora.bind-address}, nor their environment variables), as a user's
 * {@code ./fedlora coordinator} is: its REST API and its gRPC port answer on 127.0.0.1 and refuse connections on
 * every other address of this host. It used to listen on every interface (gRPC even when told otherwise).
 */
@Tag("e2e")
@ExtendWith(EnvironmentExtension.class)
class DefaultBindAddressEndToEndTest {

    private static final List<String> BIND_OPTIONS = List.of("--server.address=", "--spring.grpc.server.host=",
            "--fedlora.bind-address=");

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void withoutABindOptionBothListenersAcceptOnLoopbackOnly(FederationEnvironment env) throws Exception {
        FederationEnvironment.Coordinator coordinator = env.startCoordinator("coordinator-default-bind", List.of(),
                args -> args.stream().filter(a -> BIND_OPTIONS.stream().noneMatch(a::startsWith)).toList());
        CoordinatorProcess process = coordinator.process();
        long pid = process.process().pid();
        List<String> cmdline = Arrays.asList(Files.readString(Path.of("/proc", Long.toString(pid), "cmdline"))
                .split("\0"));
        assertThat(cmdline).as("the coordinator's command line").noneMatch(a -> BIND_OPTIONS.stream().anyMatch(a::startsWith))
                .anyMatch(a -> a.startsWith("--server.port=")).anyMatch(a -> a.startsWith("--spring.grpc.server.port="));
        assertThat(Arrays.asList(Files.readString(Path.of("/proc", Long.toString(pid), "environ"), StandardCharsets.UTF_8)
                .split("\0"))).as("the coordinator's environment")
                .noneMatch(e -> e.startsWith("FEDLORA_BIND_ADDRESS=") || e.startsWith("SERVER_ADDRESS=")
                        || e.startsWith("SPRING_GRPC_SERVER_HOST="));

        int rest = process.settings().httpPort();
        int grpc = process.settings().grpcPort();
        // loopback: the REST API answers (a key-protected route with the key) and so does gRPC (an unknown token)
        HttpResponse<String> federations = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + rest + "/api/v1/federations"))
                .header("X-API-Key", process.apiKey()).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(federations.statusCode()).as(federations.body()).isEqualTo(200);
        try (RawFederationClient wire = new RawFederationClient("127.0.0.1:" + grpc)) {
            assertThatThrownBy(() -> wire.enrol("not-a-token", "probe")).isInstanceOfSatisfying(StatusRuntimeException.class,
                    e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
        }

        List<InetAddress> others = new ArrayList<>(NetworkInterface.networkInterfaces()
                .flatMap(NetworkInterface::inetAddresses).filter(a -> !a.isLoopbackAddress()).toList());
        // even on a host with loopback only: 127.0.0.2 reaches a wildcard listener, not one bound to 127.0.0.1
        others.add(InetAddress.getByName("127.0.0.2"));
        List<String> accepted = new ArrayList<>();
        for (InetAddress other : others) {
            for (int port : new int[] {rest, grpc}) {
                if (accepts(other, port)) {
                    accepted.add(other.getHostAddress() + " port " + port);
                }
            }
        }
        assertThat(accepted).as("non-loopback addresses of this host (%s) accepting a connection", others).isEmpty();
        // and the check can see a listener: the same probe reaches the ports on 127.0.0.1
        assertThat(accepts(InetAddress.getByName("127.0.0.1"), rest)).isTrue();
        assertThat(accepts(InetAddress.getByName("127.0.0.1"), grpc)).isTrue();
        System.out.printf("default bind: REST %d and gRPC %d refused on %s%n", rest, grpc, others);
    }

    private static boolean accepts(InetAddress address, int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(address, port), 2000);
            return true;
        } catch (IOException refusedOrUnreachable) {
            return false;
        }
    }
}
