package io.fedlora.db;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real failure: a JVM killed with SIGKILL leaves its PostgreSQL running; the next start must take over. */
class KilledJvmTakeoverTest {

    @TempDir
    Path tmp;

    @BeforeEach
    void searchableByThePostgresUser() throws Exception {
        SearchableDirs.allowSearch(tmp);
    }

    @Test
    void aServerOrphanedByASigkilledJvmIsStoppedAndTheDataKept() throws Exception {
        Path dataDir = tmp.resolve("pg");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                OrphaningServer.class.getName(), dataDir.toString()).redirectErrorStream(true).start();
        long orphanPid;
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            String ready = null;
            while ((line = lines.readLine()) != null) {
                if (line.startsWith("READY ")) {
                    ready = line;
                    break;
                }
            }
            assertThat(ready).as("child JVM started PostgreSQL").isNotNull();
            orphanPid = Long.parseLong(ready.split(" ")[1]);
            child.destroyForcibly(); // SIGKILL: no shutdown hooks run
            assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(ProcessHandle.of(orphanPid).map(ProcessHandle::isAlive)).as("orphaned postgres").contains(true);

        try (EmbeddedPostgres pg = EmbeddedPostgres.start(dataDir, 0);
             Connection c = DriverManager.getConnection(pg.jdbcUrl("app"), pg.user(), pg.password());
             Statement s = c.createStatement();
             ResultSet rows = s.executeQuery("SELECT v FROM written_by_child")) {
            assertThat(exitsWithin(orphanPid, 10_000)).as("orphaned postgres stopped").isTrue();
            assertThat(rows.next()).isTrue();
            assertThat(rows.getInt(1)).isEqualTo(7);
        }
    }

    /** True once the process is gone or a zombie waiting for its (re)parent to reap it. */
    private static boolean exitsWithin(long pid, long millis) throws Exception {
        long deadline = System.currentTimeMillis() + millis;
        while (System.currentTimeMillis() < deadline) {
            Path stat = Path.of("/proc", Long.toString(pid), "stat");
            if (!java.nio.file.Files.exists(stat)) {
                return true;
            }
            try {
                String text = java.nio.file.Files.readString(stat);
                if (text.substring(text.lastIndexOf(')') + 2).startsWith("Z")) {
                    return true;
                }
            } catch (java.io.IOException vanished) {
                return true;
            }
            Thread.sleep(50);
        }
        return false;
    }

    /** Child JVM: starts PostgreSQL, commits a row, reports the postmaster pid and waits to be killed. */
    static final class OrphaningServer {
        public static void main(String[] args) throws Exception {
            EmbeddedPostgres pg = EmbeddedPostgres.start(Path.of(args[0]), 0);
            pg.createDatabaseIfMissing("app");
            try (Connection c = DriverManager.getConnection(pg.jdbcUrl("app"), pg.user(), pg.password());
                 Statement s = c.createStatement()) {
                s.execute("CREATE TABLE written_by_child (v int)");
                s.execute("INSERT INTO written_by_child VALUES (7)");
            }
            long pid = PostmasterPid.read(Path.of(args[0]).toAbsolutePath()).orElseThrow().pid();
            System.out.println("READY " + pid);
            System.out.flush();
            Thread.sleep(600_000);
        }
    }
}
