package io.fedlora.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmbeddedPostgresTest {

    @TempDir
    Path tmp;

    @BeforeEach
    void searchableByThePostgresUser() throws Exception {
        SearchableDirs.allowSearch(tmp);
    }

    @Test
    void dataSurvivesARestartOnTheSameDataDir() throws Exception {
        Path dataDir = tmp.resolve("pg");
        try (EmbeddedPostgres pg = EmbeddedPostgres.start(dataDir, 0)) {
            assertThat(pg.port()).isPositive();
            assertThat(Files.exists(dataDir.resolve("PG_VERSION"))).isTrue();
            pg.createDatabaseIfMissing("app");
            try (Connection c = connect(pg, "app"); Statement s = c.createStatement()) {
                s.execute("CREATE TABLE item (id int PRIMARY KEY, name text)");
                s.execute("INSERT INTO item VALUES (1, 'kept')");
            }
        }
        try (EmbeddedPostgres pg = EmbeddedPostgres.start(dataDir, 0)) {
            pg.createDatabaseIfMissing("app"); // exists already: no error
            try (Connection c = connect(pg, "app"); Statement s = c.createStatement();
                 ResultSet rows = s.executeQuery("SELECT name FROM item WHERE id = 1")) {
                assertThat(rows.next()).isTrue();
                assertThat(rows.getString(1)).isEqualTo("kept");
            }
        }
    }

    @Test
    void listensOnTheRequestedPortOnLoopbackAndStopsOnClose() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        EmbeddedPostgres pg = EmbeddedPostgres.start(tmp.resolve("pg"), port);
        try {
            assertThat(pg.port()).isEqualTo(port);
            assertThat(pg.user()).isEqualTo("fedlora");
            assertThat(pg.jdbcUrl("postgres")).isEqualTo("jdbc:postgresql://127.0.0.1:" + port + "/postgres");
            try (Connection c = connect(pg, "postgres"); Statement s = c.createStatement();
                 ResultSet rows = s.executeQuery("SHOW server_version")) {
                assertThat(rows.next()).isTrue();
                assertThat(rows.getString(1)).startsWith("17.");
            }
        } finally {
            pg.close();
        }
        pg.close(); // idempotent
        assertThatThrownBy(() -> connect(pg, "postgres")).isInstanceOf(SQLException.class);
        assertThat(Files.exists(tmp.resolve("pg").resolve("postmaster.pid"))).isFalse();
    }

    @Test
    void aSecondLauncherInTheSameJvmIsRefusedAndLeavesTheRunningServerAlone() throws Exception {
        Path dataDir = tmp.resolve("pg");
        try (EmbeddedPostgres first = EmbeddedPostgres.start(dataDir, 0)) {
            long pid = PostmasterPid.read(dataDir).orElseThrow().pid();
            assertThatThrownBy(() -> EmbeddedPostgres.start(dataDir, 0))
                    .isInstanceOf(EmbeddedPostgresException.class)
                    .hasMessage("data dir " + dataDir.toAbsolutePath() + " is in use by another fedlora coordinator"
                            + " (lock file " + dataDir.toAbsolutePath().resolve(DataDirLock.FILE_NAME)
                            + "); stop it or use another --data-dir");
            assertThat(selectOne(first)).isEqualTo(1);
            assertThat(PostmasterPid.read(dataDir).orElseThrow().pid()).isEqualTo(pid);
        }
        // closing released the lock: the directory can be used again
        try (EmbeddedPostgres again = EmbeddedPostgres.start(dataDir, 0)) {
            assertThat(selectOne(again)).isEqualTo(1);
        }
    }

    @Test
    void aSecondCoordinatorProcessIsRefusedAndLeavesTheRunningServerAlone() throws Exception {
        Path dataDir = tmp.resolve("pg");
        try (EmbeddedPostgres first = EmbeddedPostgres.start(dataDir, 0)) {
            long pid = PostmasterPid.read(dataDir).orElseThrow().pid();
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                    SecondLauncher.class.getName(), dataDir.toString()).redirectErrorStream(true).start();
            String output = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(child.waitFor(120, TimeUnit.SECONDS)).isTrue();
            assertThat(child.exitValue()).as(output).isEqualTo(3);
            assertThat(output).contains("REFUSED data dir " + dataDir.toAbsolutePath()
                    + " is in use by another fedlora coordinator (lock file "
                    + dataDir.toAbsolutePath().resolve(DataDirLock.FILE_NAME) + "); stop it or use another --data-dir");
            assertThat(selectOne(first)).isEqualTo(1);
            assertThat(PostmasterPid.read(dataDir).orElseThrow().pid()).isEqualTo(pid);
            assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).contains(true);
        }
    }

    /** Child JVM: tries to start on a data dir that the test's JVM holds; exit 3 and the message when refused. */
    static final class SecondLauncher {
        public static void main(String[] args) {
            try (EmbeddedPostgres ignored = EmbeddedPostgres.start(Path.of(args[0]), 0)) {
                System.out.println("STARTED");
                System.exit(0);
            } catch (EmbeddedPostgresException e) {
                System.out.println("REFUSED " + e.getMessage());
                System.out.flush();
                System.exit(3);
            }
        }
    }

    private static int selectOne(EmbeddedPostgres pg) throws SQLException {
        try (Connection c = connect(pg, "postgres"); Statement s = c.createStatement();
             ResultSet rows = s.executeQuery("SELECT 1")) {
            assertThat(rows.next()).isTrue();
            return rows.getInt(1);
        }
    }

    @Test
    void aStalePidFileNamingAnUnrelatedLiveProcessIsIgnoredNotKilled() throws Exception {
        Path dataDir = tmp.resolve("pg");
        EmbeddedPostgres.start(dataDir, 0).close();
        // as after a reboot: the pid in the stale file now belongs to someone else (here: this JVM)
        long unrelated = ProcessHandle.current().pid();
        Files.writeString(dataDir.resolve("postmaster.pid"), unrelated + "\n" + dataDir + "\n1700000000\n5432\n\n127.0.0.1\n");
        try (EmbeddedPostgres pg = EmbeddedPostgres.start(dataDir, 0);
             Connection c = connect(pg, "postgres"); Statement s = c.createStatement();
             ResultSet rows = s.executeQuery("SELECT pg_backend_pid()")) {
            assertThat(rows.next()).isTrue();
            assertThat(PostmasterPid.read(dataDir).orElseThrow().pid()).isNotEqualTo(unrelated);
        }
    }

    @Test
    void aRunningServerIsRecognisedByItsCommandLine() throws Exception {
        Path dataDir = tmp.resolve("pg");
        try (EmbeddedPostgres pg = EmbeddedPostgres.start(dataDir, 0)) {
            PostmasterPid running = PostmasterPid.read(dataDir).orElseThrow();
            assertThat(running.port()).isEqualTo(pg.port());
            assertThat(running.servesDataDir(dataDir)).isTrue();
            assertThat(running.servesDataDir(tmp.resolve("other"))).isFalse();
        }
    }

    @Test
    void createDatabaseIfMissingQuotesNames() throws Exception {
        try (EmbeddedPostgres pg = EmbeddedPostgres.start(tmp.resolve("pg"), 0)) {
            pg.createDatabaseIfMissing("Odd \"Name\"");
            pg.createDatabaseIfMissing("Odd \"Name\"");
            try (Connection c = connect(pg, "postgres"); Statement s = c.createStatement();
                 ResultSet rows = s.executeQuery("SELECT count(*) FROM pg_database WHERE datname = 'Odd \"Name\"'")) {
                rows.next();
                assertThat(rows.getInt(1)).isEqualTo(1);
            }
        }
    }

    @Test
    void refusesADirectoryThatHoldsSomethingElse() throws Exception {
        Path dataDir = Files.createDirectories(tmp.resolve("not-a-cluster"));
        Files.writeString(dataDir.resolve("notes.txt"), "mine");
        assertThatThrownBy(() -> EmbeddedPostgres.start(dataDir, 0))
                .isInstanceOf(EmbeddedPostgresException.class)
                .hasMessageContaining("no PG_VERSION")
                .hasMessageContaining(dataDir.toString());
        assertThat(Files.readString(dataDir.resolve("notes.txt"))).isEqualTo("mine");
    }

    @Test
    void aPortInUseIsReportedWithTheServerLog() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            assertThatThrownBy(() -> EmbeddedPostgres.start(tmp.resolve("pg"), taken.getLocalPort()))
                    .isInstanceOf(EmbeddedPostgresException.class)
                    .hasMessageContaining(String.valueOf(taken.getLocalPort()))
                    .hasMessageContaining("could not");
        }
    }

    private static Connection connect(EmbeddedPostgres pg, String database) throws SQLException {
        return DriverManager.getConnection(pg.jdbcUrl(database), pg.user(), pg.password());
    }
}
