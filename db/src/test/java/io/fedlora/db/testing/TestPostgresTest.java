package io.fedlora.db.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TestPostgresTest {

    @Test
    void givesEachCallerItsOwnEmptyDatabaseOnOneSharedServer() throws SQLException {
        TestPostgres postgres = TestPostgres.instance();
        assertThat(TestPostgres.instance()).isSameAs(postgres);
        assertThat(postgres.kind()).isIn("testcontainers", "embedded");

        String first = postgres.newDatabase();
        String second = postgres.newDatabase();
        assertThat(first).isNotEqualTo(second).startsWith("jdbc:postgresql://");

        try (Connection c = DriverManager.getConnection(first, postgres.username(), postgres.password());
             Statement s = c.createStatement()) {
            assertThat(tableCount(s)).isZero();
            s.execute("CREATE TABLE only_in_first (id int)");
            assertThat(tableCount(s)).isEqualTo(1);
        }
        try (Connection c = DriverManager.getConnection(second, postgres.username(), postgres.password());
             Statement s = c.createStatement()) {
            assertThat(tableCount(s)).isZero();
        }
    }

    @Test
    void noConfiguredDockerEngineMeansAnImmediateNo(@TempDir Path home) {
        DockerProbe probe = new DockerProbe(Map.of(), home, Duration.ofSeconds(20));
        boolean wellKnownSocket = Files.exists(Path.of("/var/run/docker.sock")) || Files.exists(Path.of("/run/docker.sock"));
        long started = System.nanoTime();
        boolean available = probe.dockerAvailable();
        long millis = (System.nanoTime() - started) / 1_000_000;
        if (!wellKnownSocket) {
            assertThat(available).isFalse();
            assertThat(millis).isLessThan(1000);
        }
    }

    @Test
    void dockerHostOrPropertiesFileCountAsConfigured(@TempDir Path home) throws Exception {
        assertThat(new DockerProbe(Map.of("DOCKER_HOST", "tcp://127.0.0.1:1"), home, Duration.ofSeconds(1))
                .engineConfigured()).isTrue();
        Files.writeString(home.resolve(".testcontainers.properties"), "docker.host=tcp://127.0.0.1:1\n");
        assertThat(new DockerProbe(Map.of(), home, Duration.ofSeconds(1)).engineConfigured()).isTrue();
    }

    private static int tableCount(Statement s) throws SQLException {
        try (ResultSet rows = s.executeQuery("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")) {
            rows.next();
            return rows.getInt(1);
        }
    }
}
