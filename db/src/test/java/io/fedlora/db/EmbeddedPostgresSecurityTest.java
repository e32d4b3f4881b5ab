package io.fedlora.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a local user or a SQL injection could do through the embedded PostgreSQL: log in without the password,
 * read or write server files, run programs, or (as root) inherit the JVM's capabilities. All of it must fail.
 */
class EmbeddedPostgresSecurityTest {

    private static final String NO_CAPABILITIES = "0000000000000000";

    @TempDir
    Path tmp;

    @BeforeEach
    void searchableByThePostgresUser() throws Exception {
        SearchableDirs.allowSearch(tmp);
    }

    @Test
    void loginsWithoutTheRightPasswordAreRefusedForEveryRole() throws Exception {
        try (EmbeddedPostgres pg = EmbeddedPostgres.start(tmp.resolve("pg"), 0)) {
            String url = pg.jdbcUrl("postgres");
            for (String role : List.of("postgres", "fedlora", "nobody")) {
                assertThatThrownBy(() -> DriverManager.getConnection(url, role, "").close())
                        .as("no password for " + role).isInstanceOf(SQLException.class);
                assertThatThrownBy(() -> DriverManager.getConnection(url, role, "wrong-password").close())
                        .as("wrong password for " + role).isInstanceOf(SQLException.class)
                        .hasMessageContaining("password authentication failed");
            }
            assertThatThrownBy(() -> DriverManager.getConnection(url, "postgres", pg.password()).close())
                    .as("the application's password is not the superuser's").isInstanceOf(SQLException.class);
            try (Connection app = DriverManager.getConnection(url, pg.user(), pg.password());
                 Connection admin = DriverManager.getConnection(url, pg.superuser().user(), pg.superuser().password())) {
                assertThat(app.isValid(5)).isTrue();
                assertThat(admin.isValid(5)).isTrue();
            }
            assertThat(pg.superuser().toString()).doesNotContain(pg.superuser().password());
        }
    }

    @Test
    void theApplicationRoleCanNeitherReachServerFilesNorRunPrograms() throws Exception {
        try (EmbeddedPostgres pg = EmbeddedPostgres.start(tmp.resolve("pg"), 0)) {
            pg.createDatabaseIfMissing("app");
            try (Connection c = DriverManager.getConnection(pg.jdbcUrl("app"), pg.user(), pg.password());
                 Statement s = c.createStatement()) {
                try (ResultSet rows = s.executeQuery("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
                        + "WHERE rolname = current_user")) {
                    assertThat(rows.next()).isTrue();
                    assertThat(List.of(rows.getBoolean(1), rows.getBoolean(2), rows.getBoolean(3)))
                            .containsOnly(false);
                }
                s.execute("CREATE TABLE owned_by_app (line text)"); // it owns its database
                Map<String, String> attempts = new LinkedHashMap<>();
                attempts.put("pg_read_file", "SELECT pg_read_file('/etc/passwd')");
                attempts.put("pg_read_binary_file", "SELECT pg_read_binary_file('/etc/passwd')");
                attempts.put("pg_ls_dir", "SELECT pg_ls_dir('/')");
                attempts.put("lo_import", "SELECT lo_import('/etc/passwd')");
                attempts.put("COPY FROM file", "COPY owned_by_app FROM '/etc/passwd'");
                attempts.put("COPY TO file", "COPY owned_by_app TO '/tmp/fedlora-should-not-exist'");
                attempts.put("COPY TO PROGRAM", "COPY (SELECT 1) TO PROGRAM 'id'");
                attempts.put("COPY FROM PROGRAM", "COPY owned_by_app FROM PROGRAM 'id'");
                attempts.put("CREATE ROLE", "CREATE ROLE intruder SUPERUSER LOGIN PASSWORD 'x'");
                attempts.put("ALTER ROLE SUPERUSER", "ALTER ROLE fedlora SUPERUSER");
                attempts.put("GRANT pg_read_server_files", "GRANT pg_read_server_files TO fedlora");
                attempts.put("CREATE DATABASE", "CREATE DATABASE other");
                attempts.put("ALTER SYSTEM", "ALTER SYSTEM SET log_statement = 'all'");
                attempts.put("untrusted language", "CREATE FUNCTION sh() RETURNS int LANGUAGE c AS '/bin/sh', 'main'");
                List<String> allowed = new ArrayList<>();
                for (Map.Entry<String, String> attempt : attempts.entrySet()) {
                    try {
                        s.execute(attempt.getValue());
                        allowed.add(attempt.getKey());
                    } catch (SQLException refused) {
                        assertThat(refused.getSQLState()).as(attempt.getKey() + ": " + refused.getMessage())
                                .isIn("42501", "0A000"); // insufficient_privilege; feature_not_supported for C
                    }
                }
                assertThat(allowed).as("statements the application role could run").isEmpty();
                assertThat(Path.of("/tmp/fedlora-should-not-exist")).doesNotExist();
            }
        }
    }

    @Test
    void passwordsLiveInPrivateFilesAndNoTrustRuleIsLeft() throws Exception {
        Path dataDir = tmp.resolve("pg");
        try (EmbeddedPostgres pg = EmbeddedPostgres.start(dataDir, 0)) {
            for (String role : List.of("postgres", "fedlora")) {
                Path file = PasswordFile.in(dataDir, role);
                assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
                assertThat(Files.getAttribute(file, "unix:uid")).as("owned by the JVM's user, not the server's")
                        .isEqualTo(ProcessIdentity.currentUid());
            }
            assertThat(Files.readString(PasswordFile.in(dataDir, "fedlora")).strip()).isEqualTo(pg.password());
            assertThat(Files.readString(PasswordFile.in(dataDir, "postgres")).strip())
                    .isEqualTo(pg.superuser().password());
            assertThat(pg.password()).hasSizeGreaterThanOrEqualTo(32).isNotEqualTo(pg.superuser().password());
            String hba = Files.readString(dataDir.resolve("pg_hba.conf"));
            assertThat(hba).isEqualTo(ClientAuthentication.CONTENT);
            assertThat(hba.lines().filter(l -> !l.isBlank() && !l.startsWith("#")))
                    .containsExactly("host    all       all   127.0.0.1/32  scram-sha-256");
            try (Connection c = DriverManager.getConnection(pg.jdbcUrl("postgres"), pg.user(), pg.password());
                 Statement s = c.createStatement();
                 ResultSet rows = s.executeQuery("SELECT rolpassword IS NULL FROM pg_authid")) {
                throw new AssertionError("the application role must not read pg_authid");
            } catch (SQLException expected) {
                assertThat(expected.getSQLState()).isEqualTo("42501");
            }
        }
        assertThat(Files.readString(dataDir.resolve("postgres.log"))).doesNotContain(
                Files.readString(PasswordFile.in(dataDir, "fedlora")).strip());
    }

    @Test
    void aClusterLeftTrustingLoopbackWithoutPasswordsIsLockedDownAndKeepsItsData() throws Exception {
        Path dataDir = tmp.resolve("pg");
        String oldAppPassword;
        try (EmbeddedPostgres pg = EmbeddedPostgres.start(dataDir, 0)) {
            oldAppPassword = pg.password();
            pg.createDatabaseIfMissing("legacy");
            // as an older fedlora left it: the superuser made the schema
            try (Connection c = DriverManager.getConnection(pg.jdbcUrl("legacy"), pg.superuser().user(),
                    pg.superuser().password()); Statement s = c.createStatement()) {
                s.execute("CREATE TABLE kept (id serial PRIMARY KEY, v int)");
                s.execute("INSERT INTO kept (v) VALUES (42)");
                s.execute("CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 42'");
            }
        }
        Files.delete(PasswordFile.in(dataDir, "postgres"));
        Files.delete(PasswordFile.in(dataDir, "fedlora"));
        Files.writeString(dataDir.resolve("pg_hba.conf"), "host all all 127.0.0.1/32 trust\nlocal all all trust\n");

        try (EmbeddedPostgres pg = EmbeddedPostgres.start(dataDir, 0)) {
            assertThatThrownBy(() -> DriverManager.getConnection(pg.jdbcUrl("postgres"), "postgres", "").close())
                    .isInstanceOf(SQLException.class);
            assertThatThrownBy(() -> DriverManager.getConnection(pg.jdbcUrl("postgres"), "fedlora", oldAppPassword)
                    .close()).as("the old password was replaced").isInstanceOf(SQLException.class);
            pg.createDatabaseIfMissing("legacy");
            try (Connection c = DriverManager.getConnection(pg.jdbcUrl("legacy"), pg.user(), pg.password());
                 Statement s = c.createStatement()) {
                s.execute("INSERT INTO kept (v) VALUES (43)"); // table and its sequence now belong to the app role
                s.execute("ALTER TABLE kept ADD COLUMN note text");
                s.execute("CREATE OR REPLACE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 43'");
                try (ResultSet rows = s.executeQuery("SELECT sum(v) FROM kept")) {
                    assertThat(rows.next()).isTrue();
                    assertThat(rows.getInt(1)).isEqualTo(85);
                }
            }
        }
    }

    @Test
    void asRootTheServerAndItsChildrenRunUnprivilegedWithNoCapabilities() throws Exception {
        assumeThat(ProcessIdentity.currentUid()).as("only a root JVM drops privileges").isZero();
        try (EmbeddedPostgres pg = EmbeddedPostgres.start(tmp.resolve("pg"), 0);
             Connection c = DriverManager.getConnection(pg.jdbcUrl("postgres"), pg.user(), pg.password());
             Statement s = c.createStatement();
             ResultSet rows = s.executeQuery("SELECT pg_backend_pid()")) {
            assertThat(rows.next()).isTrue();
            long postmaster = PostmasterPid.read(pg.dataDir()).orElseThrow().pid();
            List<Long> pids = new ArrayList<>(List.of(postmaster, rows.getLong(1)));
            ProcessHandle.of(postmaster).orElseThrow().descendants().forEach(p -> pids.add(p.pid()));
            assertThat(pids).hasSizeGreaterThan(3); // postmaster, this backend, checkpointer, writer...
            boolean boundingDropped = ProcessIdentity.detect().dropsBoundingSet();
            for (long pid : pids) {
                Map<String, String> status = status(pid);
                if (status.isEmpty()) {
                    continue; // an auxiliary process that just exited
                }
                assertThat(status.get("Uid")).as("pid " + pid).startsWith("65534\t65534\t65534\t65534");
                assertThat(status.get("Groups")).as("pid " + pid).isEmpty();
                for (String set : List.of("CapInh", "CapPrm", "CapEff", "CapAmb")) {
                    assertThat(status.get(set)).as(set + " of pid " + pid).isEqualTo(NO_CAPABILITIES);
                }
                if (boundingDropped) {
                    assertThat(status.get("CapBnd")).as("CapBnd of pid " + pid).isEqualTo(NO_CAPABILITIES);
                }
                assertThat(status.get("NoNewPrivs")).as("pid " + pid).isEqualTo("1");
            }
        }
    }

    @Test
    void asRootADataDirBelowAFolderThePostgresUserCannotEnterIsRefusedNamingIt() throws Exception {
        assumeThat(ProcessIdentity.currentUid()).as("only a root JVM drops privileges").isZero();
        Path closed = Files.createDirectory(tmp.resolve("closed"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path dataDir = closed.resolve("pg");
        assertThatThrownBy(() -> EmbeddedPostgres.start(dataDir, 0))
                .isInstanceOf(EmbeddedPostgresException.class)
                .hasMessageContaining("cannot reach its data dir " + dataDir)
                .hasMessageContaining("folder " + closed + " (mode 0700, owner uid 0)")
                .hasMessageContaining("chmod o+x " + closed);
        assertThat(dataDir).doesNotExist();
    }

    private static Map<String, String> status(long pid) {
        Map<String, String> fields = new LinkedHashMap<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                int colon = line.indexOf(':');
                if (colon > 0) {
                    fields.put(line.substring(0, colon), line.substring(colon + 1).strip());
                }
            }
        } catch (java.io.IOException gone) {
            fields.clear();
        }
        return fields;
    }
}
