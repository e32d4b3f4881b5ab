package io.fedlora.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import com.fasterxml.jackson.databind.JsonNode;

import io.fedlora.demo.admin.AdminClient;
import io.fedlora.demo.admin.FederationView;
import io.fedlora.demo.process.AgentSettings;
import io.fedlora.demo.process.ChildProcess;
import io.fedlora.demo.process.CoordinatorProcess;
import io.fedlora.demo.process.CoordinatorSettings;
import io.fedlora.demo.run.FederationDriver;
import io.fedlora.it.support.EnvironmentExtension;
import io.fedlora.it.support.FederationEnvironment;
import io.fedlora.it.support.RawFederationClient;
import io.fedlora.it.support.TestFederations;
import io.grpc.StatusRuntimeException;

/**
 * Every secret of a federation that ran, with fedlora's own loggers at DEBUG, is found nowhere it should not be: not
 * in any process's log, not on any process's command line (which every local user can read), and not in the
 * coordinator's data directory, its embedded PostgreSQL's files included (tokens and credentials are kept as
 * hashes). The secrets: the admin key, the embedded database's passwords, every enrolment token (used or not), every
 * issued client credential, and the wrong key, token and credential an intruder presented.
 */
@Tag("e2e")
@ExtendWith(EnvironmentExtension.class)
class SecretsStayOutOfLogsEndToEndTest {

    private static final List<String> DEBUG = List.of("--logging.level.io.fedlora=DEBUG");

    @Test
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void noSecretReachesALogACommandLineOrTheDataDirectory(FederationEnvironment env) throws Exception {
        Path dataDir = env.newDir("coordinator-secrets");
        CoordinatorSettings settings = CoordinatorSettings.onFreePorts("coordinator-secrets", dataDir, DEBUG);
        CoordinatorProcess coordinator = env.processes().startCoordinator(settings, Duration.ofMinutes(3));
        Map<String, String> secrets = new LinkedHashMap<>();
        List<ChildProcess> agents = new ArrayList<>();
        try {
            Path pgData = dataDir.resolve("postgres");
            secrets.put("admin API key", settings.apiKey());
            secrets.put("database superuser password", Files.readString(pgData.resolve("fedlora-secret-postgres.password")).strip());
            secrets.put("database application password", Files.readString(pgData.resolve("fedlora-secret-fedlora.password")).strip());

            AdminClient admin = new AdminClient(coordinator.baseUri(), settings.apiKey(), env.mapper());
            FederationView federation = admin.createFederation(TestFederations.spec("fedex", 1, 2, 2, 180, false, env.modelDir()));
            String id = federation.id();
            List<String> tokens = admin.issueEnrolmentTokens(id, 3, 600);
            for (int i = 0; i < tokens.size(); i++) {
                secrets.put("enrolment token " + i, tokens.get(i));
            }

            String wrongKey = "wrong-admin-key-" + UUID.randomUUID();
            String wrongToken = "wrong-token-" + UUID.randomUUID();
            String wrongCredential = "wrong-credential-" + UUID.randomUUID();
            secrets.put("presented wrong admin key", wrongKey);
            secrets.put("presented wrong token", wrongToken);
            secrets.put("presented wrong credential", wrongCredential);
            HttpResponse<String> refused = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(coordinator.baseUri().resolve("/api/v1/federations"))
                            .header(AdminClient.API_KEY_HEADER, wrongKey).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(refused.statusCode()).isEqualTo(401);
            assertThat(refused.body()).doesNotContain(wrongKey);
            try (RawFederationClient wire = new RawFederationClient(coordinator.grpcAddress())) {
                assertThatThrownBy(() -> wire.enrol(wrongToken, "intruder")).isInstanceOfSatisfying(
                        StatusRuntimeException.class, e -> assertThat(String.valueOf(e.getStatus().getDescription()))
                                .doesNotContain(wrongToken));
                assertThatThrownBy(() -> wire.task(wrongCredential, 0)).isInstanceOfSatisfying(
                        StatusRuntimeException.class, e -> assertThat(String.valueOf(e.getStatus().getDescription()))
                                .doesNotContain(wrongCredential));
            }

            List<FederationDriver.AgentSpec> specs = TestFederations.agents(env, "secrets", env.newDir("secrets"), 2);
            for (int i = 0; i < specs.size(); i++) {
                FederationDriver.AgentSpec a = specs.get(i);
                agents.add(env.processes().startAgent(new AgentSettings(a.name(), coordinator.grpcAddress(), tokens.get(i),
                        a.dataDir(), a.workDir(), DEBUG)));
            }
            FederationDriver driver = new FederationDriver(admin, env.processes(), coordinator);
            driver.awaitEnrolled(id, 2, Duration.ofMinutes(2), agents);
            for (FederationDriver.AgentSpec a : specs) {
                // the coordinator counts a client enrolled when it answers; the agent writes its credential after
                Path file = a.workDir().resolve("credential.json");
                long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                while (!Files.isRegularFile(file) && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                }
                JsonNode stored = env.mapper().readTree(file.toFile());
                secrets.put("credential of " + a.name(), stored.path("credential").asText());
            }
            assertThat(secrets.values()).allSatisfy(s -> assertThat(s).hasSizeGreaterThanOrEqualTo(16));

            List<ProcessHandle> running = new ArrayList<>();
            ProcessHandle coordinatorHandle = handle(coordinator.process().pid());
            running.add(coordinatorHandle);
            coordinatorHandle.descendants().forEach(running::add);
            agents.forEach(a -> running.add(handle(a.pid())));
            for (ProcessHandle p : running) {
                String cmdline = commandLine(p);
                assertThat(cmdline).as("command line of pid %d", p.pid()).isNotEmpty();
                expectNoSecret(secrets, cmdline, "the command line of pid " + p.pid() + " (" + cmdline.split(" ")[0] + ")");
            }

            admin.start(id);
            FederationView end = driver.awaitFinished(id, Duration.ofMinutes(5), rounds -> { }, agents);
            assertThat(end.status()).isEqualTo("COMPLETED");
        } finally {
            agents.forEach(ChildProcess::close);
            coordinator.process().close();
        }

        assertThat(env.processes().launcher().logDir().resolve("coordinator-secrets.log")).content()
                .as("the coordinator logged at DEBUG").contains("DEBUG");
        try (Stream<Path> logs = Files.walk(env.processes().launcher().logDir())) {
            for (Path log : logs.filter(Files::isRegularFile).toList()) {
                expectNoSecret(secrets, Files.readString(log, StandardCharsets.ISO_8859_1), "log " + log);
            }
        }
        List<Path> scanned = new ArrayList<>();
        try (Stream<Path> files = Files.walk(dataDir)) {
            for (Path file : files.filter(Files::isRegularFile)
                    .filter(f -> !f.getFileName().toString().startsWith("fedlora-secret-")).toList()) {
                expectNoSecret(secrets, Files.readString(file, StandardCharsets.ISO_8859_1), "file " + file);
                scanned.add(file);
            }
        }
        assertThat(scanned).as("the database's own files were scanned")
                .anyMatch(f -> f.toString().contains("/postgres/base/")).anyMatch(f -> f.toString().contains("pg_wal"));
    }

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void anExternalDatabasesPasswordIsNotOnTheCoordinatorsCommandLine(FederationEnvironment env) throws Exception {
        FederationEnvironment.Coordinator coordinator = env.sharedCoordinator();
        String password = coordinator.database().password();
        assertThat(password).isNotBlank();
        String cmdline = commandLine(handle(coordinator.process().process().pid()));
        assertThat(cmdline).contains("--spring.datasource.url=").doesNotContain(password);
        assertThat(coordinator.process().process().logFile()).content().doesNotContain(password);
    }

    private static ProcessHandle handle(long pid) {
        return ProcessHandle.of(pid).orElseThrow(() -> new AssertionError("pid " + pid + " is not running"));
    }

    private static void expectNoSecret(Map<String, String> secrets, String text, String where) {
        secrets.forEach((what, secret) -> assertThat(text.contains(secret)).as("%s appears in %s", what, where).isFalse());
    }

    private static String commandLine(ProcessHandle process) {
        try {
            byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(process.pid()), "cmdline"));
            return new String(raw, StandardCharsets.UTF_8).replace('\0', ' ').strip();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the command line of pid " + process.pid(), e);
        }
    }
}
