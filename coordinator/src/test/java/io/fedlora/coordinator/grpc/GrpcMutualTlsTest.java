package io.fedlora.coordinator.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.coordinator.clientapi.ClientGateway;
import io.fedlora.proto.v1.EnrolRequest;
import io.fedlora.proto.v1.FederationGrpc;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.autoconfigure.flyway.FlywayAutoConfiguration;
import org.springframework.boot.autoconfigure.jdbc.DataSourceAutoConfiguration;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.context.ApplicationListener;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;
import org.springframework.grpc.server.lifecycle.GrpcServerStartedEvent;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.util.FileSystemUtils;

/**
 * mTLS purely from Spring properties: Spring gRPC's Netty server with a PEM SSL bundle (server
 * certificate + key, CA as trust store) and {@code spring.grpc.server.ssl.client-auth=REQUIRE}. A client
 * holding a certificate from that CA gets through; one without a certificate, one with a self-signed certificate, and a plaintext one are refused before any RPC runs. The transport beans are the real ones;
 * only the federation logic behind {@link ClientGateway} is the in-memory test gateway.
 */
@SpringBootTest(classes = GrpcMutualTlsTest.TransportOnly.class, webEnvironment = SpringBootTest.WebEnvironment.NONE)
class GrpcMutualTlsTest {

    private static Path dir;
    private static Path[] client;
    private static Path[] rogueClient;
    private static Path rogueCa;

    @Autowired
    private PortHolder port;
    @Autowired
    private InMemoryGateway gateway;

    @DynamicPropertySource
    static void tls(DynamicPropertyRegistry registry) throws Exception {
        dir = Files.createTempDirectory("fedlora-mtls");
        TestPki pki = TestPki.create(dir.resolve("pki"));
        Path[] server = pki.issue("server", "serverAuth", "dns:localhost,ip:127.0.0.1");
        client = pki.issue("hospital-a", "clientAuth", null);
        rogueClient = pki.selfSigned("intruder");
        rogueCa = rogueClient[0];

        registry.add("spring.grpc.server.port", () -> "0");
        registry.add("spring.grpc.server.host", () -> "127.0.0.1");
        registry.add("spring.ssl.bundle.pem.fedlora-grpc.keystore.certificate", () -> "file:" + server[0]);
        registry.add("spring.ssl.bundle.pem.fedlora-grpc.keystore.private-key", () -> "file:" + server[1]);
        registry.add("spring.ssl.bundle.pem.fedlora-grpc.truststore.certificate", () -> "file:" + pki.caCert());
        registry.add("spring.grpc.server.ssl.bundle", () -> "fedlora-grpc");
        registry.add("spring.grpc.server.ssl.client-auth", () -> "REQUIRE");
        registry.add("spring.grpc.server.ssl.secure", () -> "true");
        registry.add("spring.main.web-application-type", () -> "none");
    }

    @AfterAll
    static void cleanUp() {
        FileSystemUtils.deleteRecursively(dir.toFile());
    }

    @Test
    void clientWithACertificateFromTheConfiguredCaIsServed() throws Exception {
        ChannelCredentials creds = TlsChannelCredentials.newBuilder()
                .trustManager(dir.resolve("pki/ca.crt").toFile())
                .keyManager(client[0].toFile(), client[1].toFile())
                .build();
        try (TestAgent agent = TestAgent.over(Grpc.newChannelBuilderForAddress("localhost", port.port, creds).build())) {
            assertThat(agent.enrol(InMemoryGateway.TOKEN, "hospital-a").getFederationId())
                    .isEqualTo(InMemoryGateway.FEDERATION);
            assertThat(agent.heartbeat("idle", -1).getIntervalMs()).isPositive();
        }
        assertThat(gateway.heartbeats).containsExactly("client-hospital-a:idle");
    }

    @Test
    void clientWithoutACertificateIsRefused() throws Exception {
        ChannelCredentials creds = TlsChannelCredentials.newBuilder()
                .trustManager(dir.resolve("pki/ca.crt").toFile()).build();
        assertRefused(creds, "no-certificate");
    }

    @Test
    void clientWithACertificateNotSignedByTheCaIsRefused() throws Exception {
        ChannelCredentials creds = TlsChannelCredentials.newBuilder()
                .trustManager(dir.resolve("pki/ca.crt").toFile())
                .keyManager(rogueClient[0].toFile(), rogueClient[1].toFile())
                .build();
        assertRefused(creds, "self-signed");
    }

    @Test
    void plaintextClientIsRefused() throws Exception {
        assertRefused(InsecureChannelCredentials.create(), "plaintext");
    }

    @Test
    void clientThatDoesNotTrustTheServerRefusesIt() throws Exception {
        ChannelCredentials creds = TlsChannelCredentials.newBuilder()
                .trustManager(rogueCa.toFile())
                .keyManager(client[0].toFile(), client[1].toFile())
                .build();
        assertRefused(creds, "distrusting");
    }

    private void assertRefused(ChannelCredentials creds, String name) throws InterruptedException {
        ManagedChannel ch = Grpc.newChannelBuilderForAddress("localhost", port.port, creds).build();
        try {
            StatusRuntimeException e = null;
            try {
                FederationGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
                        .enrol(EnrolRequest.newBuilder().setEnrolmentToken(InMemoryGateway.TOKEN).setClientName(name).build());
            } catch (StatusRuntimeException ex) {
                e = ex;
            }
            assertThat(e).as("the call must fail").isNotNull();
            assertThat(e.getStatus().getCode()).as(e.getStatus().toString()).isEqualTo(Status.Code.UNAVAILABLE);
            assertThat(gateway.credentials.values()).as("no enrolment reached the gateway")
                    .noneMatch(c -> c.clientName().equals(name));
        } finally {
            ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    /** Spring gRPC's auto-configuration plus this package's transport beans, without a database. */
    @SpringBootConfiguration
    @EnableAutoConfiguration(exclude = {DataSourceAutoConfiguration.class, FlywayAutoConfiguration.class})
    @Import({GrpcTransportConfiguration.class, FederationGrpcService.class, TaskPoller.class, GrpcMetrics.class,
            BearerAuthInterceptor.class, ByteCountingInterceptor.class})
    static class TransportOnly {
        @Bean
        InMemoryGateway gateway() {
            return new InMemoryGateway();
        }

        @Bean
        PortHolder portHolder() {
            return new PortHolder();
        }
    }

    /** Records the port the gRPC server actually bound. */
    static final class PortHolder implements ApplicationListener<GrpcServerStartedEvent> {
        volatile int port;

        @Override
        public void onApplicationEvent(GrpcServerStartedEvent event) {
            port = event.getPort();
        }
    }
}
