package io.fedlora.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.fedlora.demo.admin.AdminClient;
import io.fedlora.demo.admin.FederationView;
import io.fedlora.demo.process.ChildProcess;
import io.fedlora.demo.process.CoordinatorProcess;
import io.fedlora.demo.process.CoordinatorSettings;
import io.fedlora.it.support.EnvironmentExtension;
import io.fedlora.it.support.FederationEnvironment;
import io.fedlora.it.support.TestFederations;

/**
 * One data dir, one coordinator, with two coordinator processes started the way {@code ./fedlora coordinator} starts
 * them (no datasource configured, so each would run the embedded PostgreSQL of its data dir). The second one used
 * to take the first one's live server for a stale one and stop it; now it exits non-zero naming the data dir in use,
 * and the first one's database keeps running and serving it.
 */
@Tag("e2e")
@ExtendWith(EnvironmentExtension.class)
class OneCoordinatorPerDataDirEndToEndTest {

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void aSecondCoordinatorOnTheSameDataDirRefusesToStartAndTheFirstKeepsWorking(FederationEnvironment env)
            throws Exception {
        Path dataDir = env.newDir("coordinator-one-per-dir");
        CoordinatorSettings firstSettings = CoordinatorSettings.onFreePorts("coordinator-one-per-dir", dataDir, List.of());
        CoordinatorProcess first = env.processes().startCoordinator(firstSettings, Duration.ofMinutes(3));
        try {
            Path pgData = dataDir.resolve("postgres");
            String pidFile = Files.readString(pgData.resolve("postmaster.pid"));
            long postmaster = Long.parseLong(pidFile.lines().findFirst().orElseThrow().strip());
            AdminClient admin = new AdminClient(first.baseUri(), first.apiKey(), env.mapper());
            admin.createFederation(TestFederations.spec("fedex", 1, 1, 1, 600, false, env.modelDir()));

            // the same data dir, its own ports and key: nothing but the data dir is shared
            CoordinatorSettings secondSettings = CoordinatorSettings.onFreePorts("coordinator-one-per-dir-second", dataDir,
                    List.of());
            ChildProcess second = env.launchCoordinator(secondSettings, UnaryOperator.identity());
            assertThat(second.waitFor(Duration.ofMinutes(2))).as("the second coordinator exits by itself").isTrue();
            String log = Files.readString(second.logFile());
            assertThat(second.exitCode()).as("exit status of the second coordinator; log:\n" + second.logTail(40))
                    .hasValueSatisfying(code -> assertThat(code).isNotZero());
            assertThat(log).as("the second coordinator's log says why")
                    .contains("data dir " + pgData.toAbsolutePath() + " is in use by another fedlora coordinator")
                    .contains("stop it or use another --data-dir")
                    .as("the reason leads its error line instead of ending a chain of Spring's bean-creation messages")
                    .containsPattern("(?m)^error: data dir \\S+ is in use by another fedlora coordinator");
            assertThat(Files.readString(pgData.resolve("fedlora-coordinator.lock")).strip())
                    .as("the lock file names the running coordinator").isEqualTo(Long.toString(first.process().pid()));

            // the first coordinator and its database are untouched
            assertThat(first.process().isAlive()).isTrue();
            assertThat(ProcessHandle.of(postmaster).map(ProcessHandle::isAlive)).as("the first one's postmaster")
                    .contains(true);
            assertThat(Files.readString(pgData.resolve("postmaster.pid"))).as("the same server, same port")
                    .isEqualTo(pidFile);
            HttpResponse<String> health = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create(first.baseUri() + "/actuator/health")).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(health.statusCode()).as(health.body()).isEqualTo(200);
            assertThat(health.body()).contains("\"UP\"");
            FederationView created = admin.createFederation(TestFederations.spec("fedex", 1, 1, 1, 600, false, env.modelDir()));
            assertThat(admin.federation(created.id()).status()).isEqualTo("CREATED");
            assertThat(admin.issueEnrolmentTokens(created.id(), 1, 60)).hasSize(1);
            assertThat(admin.federations()).as("both federations, from the first coordinator's database")
                    .extracting(FederationView::id).contains(created.id()).hasSize(2);
        } finally {
            first.process().close();
        }
    }
}
