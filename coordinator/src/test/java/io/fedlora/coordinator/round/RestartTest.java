package io.fedlora.coordinator.round;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.coordinator.CoordinatorApplication;
import io.fedlora.coordinator.client.ClientService;
import io.fedlora.coordinator.clientapi.ClientGateway;
import io.fedlora.coordinator.clientapi.ClientTask;
import io.fedlora.coordinator.clientapi.UploadReceiptInfo;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.federation.FederationService;
import io.fedlora.coordinator.federation.FederationSpec;
import io.fedlora.coordinator.federation.FederationStatus;
import io.fedlora.coordinator.support.CoordinatorTestBase;
import io.fedlora.coordinator.support.SimulatedClient;
import io.fedlora.coordinator.support.TinyGpt2;
import io.fedlora.db.testing.TestPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * A coordinator stopped in the middle of a round and started again on the same database and data
 * directory resumes it: acknowledged updates are kept, counted once, and the round completes.
 */
class RestartTest {

    private static ConfigurableApplicationContext start(String url, Path dataDir) {
        TestPostgres pg = TestPostgres.instance();
        // command-line arguments, not default properties: application.yml outranks defaults, and its fixed ports
        // and ./.fedlora data dir would make the test bind 8080/9090 and write into the source tree
        return new SpringApplicationBuilder(CoordinatorApplication.class).run(
                "--server.port=0", "--spring.grpc.server.port=0", "--spring.datasource.url=" + url,
                "--spring.datasource.username=" + pg.username(), "--spring.datasource.password=" + pg.password(),
                "--fedlora.data-dir=" + dataDir, "--fedlora.admin.api-key=restart", "--fedlora.scheduler.tick=50ms");
    }

    @Test
    void roundInProgressSurvivesARestart() throws Exception {
        String url = TestPostgres.instance().newDatabase();
        Path dataDir = Files.createTempDirectory("fedlora-restart");
        Path model = TinyGpt2.write(dataDir.resolveSibling(dataDir.getFileName() + "-model"), true);
        FederationSpec spec = new FederationSpec("restart", model.toString(), List.of("c_attn"), 4, 8.0, true, "fedex",
                "uniform", 1, new FederationSpec.ClientsPerRound(1.0, 3), 60, 3, 0, false, null, 1000.0);

        List<SimulatedClient> clients = new ArrayList<>();
        String federationId;
        UploadReceiptInfo firstReceipt;
        SimulatedClient.Upload firstUpload;
        try (ConfigurableApplicationContext a = start(url, dataDir)) {
            Federation f = a.getBean(FederationService.class).create(spec, "test");
            federationId = f.id();
            a.getBean(FederationService.class).start(f.id(), "test");
            ClientGateway gw = a.getBean(ClientGateway.class);
            List<ClientService.IssuedToken> tokens = a.getBean(ClientService.class)
                    .issueTokens(f.id(), 3, Duration.ofMinutes(5), "test");
            for (int i = 0; i < 3; i++) {
                clients.add(new SimulatedClient(gw, tokens.get(i).token(), "site-" + i, 10L * (i + 1), i));
            }
            firstUpload = clients.get(0).prepare(clients.get(0).awaitTask(ClientTask.Kind.TRAIN, Duration.ofSeconds(10)));
            firstReceipt = clients.get(0).upload(firstUpload);
            clients.get(1).trainOnce(Duration.ofSeconds(10));
        }

        try (ConfigurableApplicationContext b = start(url, dataDir)) {
            ClientGateway gw = b.getBean(ClientGateway.class);
            List<SimulatedClient> again = clients.stream().map(c -> c.reconnect(gw)).toList();
            UploadReceiptInfo retried = again.get(0).upload(firstUpload);
            assertThat(retried.duplicate()).isTrue();
            assertThat(retried.updateId()).isEqualTo(firstReceipt.updateId());
            again.get(2).trainOnce(Duration.ofSeconds(10));
            FederationService federations = b.getBean(FederationService.class);
            CoordinatorTestBase.await("completion after restart", Duration.ofSeconds(20),
                    () -> federations.get(federationId).status() == FederationStatus.COMPLETED);
            RoundRecord r1 = b.getBean(RoundRepository.class).current(federationId, 1).orElseThrow();
            RoundMetrics m = b.getBean(RoundMetricsRepository.class).find(r1.id()).orElseThrow();
            assertThat(m.numClients()).isEqualTo(3);
            assertThat(m.totalExamples()).isEqualTo(60);
            assertThat(m.exactnessRelError()).isLessThanOrEqualTo(1e-5);
        }
    }
}
