package io.fedlora.agent.daemon.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.fedlora.agent.daemon.AgentProperties;
import io.fedlora.agent.daemon.ScriptedCoordinatorAccess;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS and mTLS towards the coordinator with certificates made by {@code openssl} for the test (skipped where
 * no openssl binary exists): a pinned CA plus a client certificate gets through; without the client
 * certificate a server that requires one refuses the connection.
 */
class TlsChannelTest {

    @TempDir
    static Path pki;

    @BeforeAll
    static void makeCertificates() throws Exception {
        assumeTrue(run(List.of("openssl", "version")), "openssl is not installed");
        Files.writeString(pki.resolve("server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
        Files.writeString(pki.resolve("client.ext"), "extendedKeyUsage=clientAuth\n");
        String ec = "ec_paramgen_curve:prime256v1";
        require(List.of("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", ec, "-nodes", "-keyout", "ca.key",
                "-out", "ca.pem", "-days", "3650", "-subj", "/CN=fedlora-test-ca"));
        for (String who : List.of("server", "client")) {
            require(List.of("openssl", "req", "-newkey", "ec", "-pkeyopt", ec, "-nodes", "-keyout", who + ".key",
                    "-out", who + ".csr", "-subj", "/CN=" + who));
            require(List.of("openssl", "x509", "-req", "-in", who + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                    "-CAcreateserial", "-out", who + ".pem", "-days", "3650", "-extfile", who + ".ext"));
        }
    }

    private static boolean run(List<String> cmd) {
        try {
            Process p = new ProcessBuilder(cmd).directory(pki.toFile()).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (Exception e) {
            return false;
        }
    }

    private static void require(List<String> cmd) {
        if (!run(cmd)) {
            throw new IllegalStateException("failed: " + String.join(" ", cmd));
        }
    }

    private static SslContext serverTls() throws Exception {
        return GrpcSslContexts.forServer(pki.resolve("server.pem").toFile(), pki.resolve("server.key").toFile())
                .trustManager(pki.resolve("ca.pem").toFile()).clientAuth(ClientAuth.REQUIRE).build();
    }

    private static AgentProperties props(String target, boolean clientCert) {
        return new AgentProperties(target, null, "n", pki, pki,
                new AgentProperties.Tls(true, pki.resolve("ca.pem"), clientCert ? pki.resolve("client.pem") : null,
                        clientCert ? pki.resolve("client.key") : null, null),
                Duration.ofSeconds(1), 0, io.fedlora.agent.data.BadLinePolicy.SKIP, Duration.ofMillis(200), Duration.ofSeconds(5), Duration.ofSeconds(5),
                new AgentProperties.Retry(Duration.ofMillis(20), Duration.ofMillis(50), 2.0, Duration.ofMillis(300)), 1, null);
    }

    @Test
    void mutualTlsWithPinnedCaAndClientCertificate() throws Exception {
        try (AutoCloseable server = ScriptedCoordinatorAccess.start(serverTls())) {
            String target = ScriptedCoordinatorAccess.target(server);
            ManagedChannel channel = ChannelFactory.create(props(target, true));
            try {
                var response = new CoordinatorClient(channel, props(target, true)).enrol("token-1", "n", Map.of());
                assertThat(response.getClientId()).isNotBlank();
            } finally {
                channel.shutdownNow();
            }
        }
    }

    @Test
    void serverRequiringClientCertificatesRefusesAnAgentWithout() throws Exception {
        try (AutoCloseable server = ScriptedCoordinatorAccess.start(serverTls())) {
            String target = ScriptedCoordinatorAccess.target(server);
            ManagedChannel channel = ChannelFactory.create(props(target, false));
            try {
                assertThatThrownBy(() -> new CoordinatorClient(channel, props(target, false)).enrol("token-1", "n", Map.of()))
                        .isInstanceOf(StatusRuntimeException.class);
                assertThat(ScriptedCoordinatorAccess.enrolCalls(server)).isZero();
            } finally {
                channel.shutdownNow();
            }
        }
    }
}
