package io.fedlora.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.fedlora.demo.process.CoordinatorProcess;
import io.fedlora.demo.process.CoordinatorSettings;
import io.fedlora.it.support.EnvironmentExtension;
import io.fedlora.it.support.FederationEnvironment;

/**
 * The embedded-database holes an outside probe found, replayed against a coordinator process started the way
 * {@code ./fedlora coordinator} starts it (no datasource configured): loopback logins without a password used to be
 * trusted, the coordinator was the superuser (so {@code pg_read_file('/etc/shadow')} worked), and a root-started
 * server kept file capabilities. Now nothing gets in without the generated password, the coordinator's own role
 * cannot reach server files or programs, and the server holds no capabilities.
 */
@Tag("e2e")
@ExtendWith(EnvironmentExtension.class)
class EmbeddedDatabaseEndToEndTest {

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void theCoordinatorsEmbeddedPostgresAdmitsOnlyItsPasswordAndGrantsNoServerAccess(FederationEnvironment env)
            throws Exception {
        Path dataDir = env.newDir("coordinator-embedded-pg");
        CoordinatorSettings settings = CoordinatorSettings.onFreePorts("coordinator-embedded-pg", dataDir, List.of());
        CoordinatorProcess coordinator = env.processes().startCoordinator(settings, Duration.ofMinutes(3));
        Path pgData = dataDir.resolve("postgres");
        List<String> pidFile = Files.readAllLines(pgData.resolve("postmaster.pid"));
        long postmaster = Long.parseLong(pidFile.get(0).strip());
        try {
            String url = "jdbc:postgresql://127.0.0.1:" + pidFile.get(3).strip() + "/fedlora";
            String appPassword = Files.readString(pgData.resolve("fedlora-secret-fedlora.password")).strip();
            String superPassword = Files.readString(pgData.resolve("fedlora-secret-postgres.password")).strip();

            for (String role : List.of("postgres", "fedlora")) {
                assertThatThrownBy(() -> DriverManager.getConnection(url, role, "").close())
                        .as(role + " without a password").isInstanceOf(SQLException.class);
                assertThatThrownBy(() -> DriverManager.getConnection(url, role, "guess").close())
                        .as(role + " with a wrong password").isInstanceOf(SQLException.class);
            }

            try (Connection c = DriverManager.getConnection(url, "fedlora", appPassword); Statement s = c.createStatement()) {
                try (ResultSet rows = s.executeQuery("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")) {
                    List<String> owners = new ArrayList<>();
                    while (rows.next()) {
                        owners.add(rows.getString(1));
                    }
                    assertThat(owners).as("Flyway migrated as the application role").containsExactly("fedlora");
                }
                for (String sql : List.of("SELECT pg_read_file('/etc/shadow')", "SELECT lo_import('/etc/passwd')",
                        "COPY (SELECT 1) TO PROGRAM 'id'", "CREATE ROLE intruder SUPERUSER")) {
                    assertThatThrownBy(() -> s.execute(sql)).as(sql).isInstanceOf(SQLException.class)
                            .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("42501"));
                }
            }

            if (isRoot()) {
                Map<String, String> status = status(postmaster);
                assertThat(status.get("Uid")).startsWith("65534");
                for (String set : List.of("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")) {
                    assertThat(status.get(set)).as(set + " of the postmaster").isEqualTo("0000000000000000");
                }
                assertThat(status.get("NoNewPrivs")).isEqualTo("1");
            }

            HttpResponse<String> federations = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                            URI.create(coordinator.baseUri() + "/api/v1/federations"))
                    .header("X-API-Key", coordinator.apiKey()).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(federations.statusCode()).as("the coordinator works on its embedded database").isEqualTo(200);

            String log = Files.readString(coordinator.process().logFile());
            assertThat(log).as("no database password in the coordinator's log")
                    .doesNotContain(appPassword).doesNotContain(superPassword);
        } finally {
            coordinator.process().close();
        }
        assertThat(exitsWithin(postmaster, Duration.ofSeconds(10))).as("the embedded PostgreSQL stops with its coordinator")
                .isTrue();
    }

    /** True once the process is gone or a zombie (pg_ctl daemonised it, so init reaps it, possibly late). */
    private static boolean exitsWithin(long pid, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Path stat = Path.of("/proc", Long.toString(pid), "stat");
        while (System.nanoTime() < deadline) {
            try {
                String text = Files.readString(stat);
                if (text.substring(text.lastIndexOf(')') + 2).startsWith("Z")) {
                    return true;
                }
            } catch (java.io.IOException gone) {
                return true;
            }
            Thread.sleep(50);
        }
        return false;
    }

    private static boolean isRoot() throws Exception {
        return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
    }

    private static Map<String, String> status(long pid) throws Exception {
        Map<String, String> fields = new LinkedHashMap<>();
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            int colon = line.indexOf(':');
            if (colon > 0) {
                fields.put(line.substring(0, colon), line.substring(colon + 1).strip());
            }
        }
        return fields;
    }
}
