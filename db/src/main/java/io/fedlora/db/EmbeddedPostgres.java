package io.fedlora.db;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real PostgreSQL server run from zonky's binaries on a local data directory, for when no external database is
 * configured ({@code ./fedlora coordinator}, the demo, tests without Docker).
 *
 * <p>The data directory is created with {@code initdb} on first use and reused afterwards. The server listens on
 * 127.0.0.1 only, opens no Unix socket, and admits only password logins (scram-sha-256; {@code pg_hba.conf} is
 * rewritten at every start, so an old trust configuration cannot survive). Two roles have random passwords kept
 * in 0600 files in the data directory: the superuser {@code postgres}, used only here to create the application
 * role and databases, and {@value #APP_ROLE}, a role with no superuser, role-creation or database-creation rights
 * that owns the application's database. Callers (the coordinator, Flyway) connect as {@value #APP_ROLE}, so SQL
 * that reaches the database can neither read server files ({@code pg_read_file}, {@code lo_import}) nor run
 * programs ({@code COPY ... TO PROGRAM}).
 *
 * <p>Each instance holds an exclusive lock on {@value DataDirLock#FILE_NAME} in the data directory for its whole
 * life, so a second launcher on a directory in use is refused instead of stopping the first one's server. A server
 * that a killed JVM left running on the same data directory (its lock released by the OS) is stopped before this
 * one starts. When the JVM runs as root (PostgreSQL refuses to), every PostgreSQL binary runs as uid 65534 with no
 * capabilities (see {@link ProcessIdentity}), and the data directory is chowned to that uid; the password files
 * stay root's.
 */
public final class EmbeddedPostgres implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(EmbeddedPostgres.class);
    private static final String SUPERUSER = "postgres";
    /** The role callers connect as: owner of the databases made by {@link #createDatabaseIfMissing}. */
    public static final String APP_ROLE = "fedlora";
    private static final String LOG_FILE = "postgres.log";
    private static final long INITDB_TIMEOUT_S = 300;
    private static final int START_TIMEOUT_S = 120;
    private static final int STOP_TIMEOUT_S = 60;
    private static final int PORT_ATTEMPTS = 3;

    private final Path dataDir;
    private final PostgresTool tool;
    private final int port;
    private final long pid;
    private final DataDirLock lock;
    private final Credentials superuser;
    private final Credentials application;
    private final Thread shutdownHook;
    private boolean closed;

    private EmbeddedPostgres(Path dataDir, PostgresTool tool, int port, long pid, DataDirLock lock,
                             Credentials superuser, Credentials application) {
        this.dataDir = dataDir;
        this.tool = tool;
        this.port = port;
        this.pid = pid;
        this.lock = lock;
        this.superuser = superuser;
        this.application = application;
        this.shutdownHook = new Thread(this::stopQuietly, "embedded-postgres-shutdown");
    }

    /**
     * Starts PostgreSQL on {@code dataDir} (initialised if it holds no cluster yet).
     *
     * @param dataDir the cluster's data directory; created if missing
     * @param port    TCP port on 127.0.0.1, or 0 to pick a free one
     * @return the running server; {@link #close()} stops it
     * @throws EmbeddedPostgresException with PostgreSQL's output when it cannot be started, or when another
     *                                   coordinator holds the data dir's lock (its server is left alone)
     */
    public static EmbeddedPostgres start(Path dataDir, int port) {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port must be 0..65535, was " + port);
        }
        Path dir = dataDir.toAbsolutePath().normalize();
        PostgresBinaries binaries = PostgresBinaries.extracted();
        ProcessIdentity identity = ProcessIdentity.detect();
        PostgresTool tool = new PostgresTool(binaries.binDir(), identity);
        log.info("Embedded PostgreSQL: binaries {}, data dir {}, {}", binaries.home(), dir, identity.describe());
        identity.requireReachable(binaries.binDir().resolve("postgres"), "PostgreSQL binaries");
        identity.requireReachable(dir, "data dir");
        try {
            initialiseIfMissing(dir, tool, identity);
        } catch (IOException e) {
            throw new EmbeddedPostgresException("Cannot prepare PostgreSQL data dir " + dir + ": " + e.getMessage(), e);
        }
        // before anything touches a server that may be running on dir: it may be another live coordinator's
        DataDirLock lock = DataDirLock.acquire(dir);
        try {
            EmbeddedPostgres server = startLocked(dir, tool, identity, port, lock);
            Runtime.getRuntime().addShutdownHook(server.shutdownHook);
            return server;
        } catch (RuntimeException e) {
            lock.close();
            throw e;
        }
    }

    private static EmbeddedPostgres startLocked(Path dir, PostgresTool tool, ProcessIdentity identity, int port,
                                                DataDirLock lock) {
        try {
            if (!identity.owns(dir)) {
                log.info("Handing data dir {} to uid {}", dir, identity.unprivilegedUid());
                identity.takeOwnership(dir, PasswordFile::isPasswordFile);
            }
        } catch (IOException e) {
            throw new EmbeddedPostgresException("Cannot prepare PostgreSQL data dir " + dir + ": " + e.getMessage(), e);
        }
        stopStaleServer(dir, tool);
        Credentials superuser;
        try {
            superuser = superuserCredentials(dir, tool);
            ClientAuthentication.write(dir, identity);
        } catch (IOException e) {
            throw new EmbeddedPostgresException("Cannot prepare PostgreSQL authentication in " + dir + ": "
                    + e.getMessage(), e);
        }

        EmbeddedPostgresException lastFailure = null;
        for (int attempt = 1; attempt <= (port == 0 ? PORT_ATTEMPTS : 1); attempt++) {
            int chosen = port == 0 ? freePort() : port;
            try {
                long pid = startServer(dir, tool, chosen);
                Credentials application;
                try {
                    application = ensureApplicationRole(dir, chosen, superuser);
                } catch (RuntimeException e) {
                    shutDown(dir, tool);
                    throw e;
                }
                EmbeddedPostgres server = new EmbeddedPostgres(dir, tool, chosen, pid, lock, superuser, application);
                log.info("Embedded PostgreSQL listening on 127.0.0.1:{} (pid {}, data dir {}, role {})", chosen, pid,
                        dir, APP_ROLE);
                return server;
            } catch (PortInUseException e) {
                if (port != 0) {
                    throw e;
                }
                log.warn("Port {} was taken before PostgreSQL could bind it (attempt {})", chosen, attempt);
                lastFailure = e;
            }
        }
        throw lastFailure;
    }

    /** The TCP port on 127.0.0.1. */
    public int port() {
        return port;
    }

    /** The data directory this server runs on. */
    public Path dataDir() {
        return dataDir;
    }

    /** JDBC URL of {@code database} on this server. */
    public String jdbcUrl(String database) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database;
    }

    /** The role to connect as ({@value #APP_ROLE}): no superuser rights, owner of the application's database. */
    public String user() {
        return application.user();
    }

    /** The password of {@link #user()}; never log it. */
    public String password() {
        return application.password();
    }

    /**
     * The superuser, for administration that the application role may not do (test fixtures creating
     * databases). Applications must connect as {@link #user()} instead.
     */
    public Credentials superuser() {
        return superuser;
    }

    /**
     * Creates {@code name} owned by {@value #APP_ROLE} unless it exists; safe when several callers race. A database
     * that exists already (made by an older fedlora, whose coordinator connected as the superuser) is handed to
     * {@value #APP_ROLE} together with the tables, sequences, views and functions in its {@code public} schema.
     */
    public void createDatabaseIfMissing(String name) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("database name must not be blank");
        }
        String quoted = "\"" + name.replace("\"", "\"\"") + "\"";
        try (Connection connection = connect(port, "postgres", superuser)) {
            boolean exists;
            try (PreparedStatement query = connection.prepareStatement("SELECT 1 FROM pg_database WHERE datname = ?")) {
                query.setString(1, name);
                try (ResultSet rows = query.executeQuery()) {
                    exists = rows.next();
                }
            }
            if (!exists) {
                try (Statement create = connection.createStatement()) {
                    create.execute("CREATE DATABASE " + quoted + " OWNER " + APP_ROLE);
                    log.info("Created database {} owned by {} on embedded PostgreSQL port {}", name, APP_ROLE, port);
                    return;
                } catch (SQLException e) {
                    // 42P04 duplicate_database; 23505 when a concurrent CREATE DATABASE won the race on pg_database
                    if (!"42P04".equals(e.getSQLState()) && !"23505".equals(e.getSQLState())) {
                        throw e;
                    }
                }
            }
            try (Statement owner = connection.createStatement()) {
                owner.execute("ALTER DATABASE " + quoted + " OWNER TO " + APP_ROLE);
            }
        } catch (SQLException e) {
            throw new EmbeddedPostgresException("Cannot create database " + name + " on " + jdbcUrl("postgres") + ": "
                    + e.getMessage(), e);
        }
        try (Connection connection = connect(port, name, superuser); Statement adopt = connection.createStatement()) {
            adopt.execute(ADOPT_SUPERUSER_OBJECTS);
        } catch (SQLException e) {
            throw new EmbeddedPostgresException("Cannot hand the objects of database " + name + " to " + APP_ROLE + ": "
                    + e.getMessage(), e);
        }
    }

    /** Gives the superuser's objects in schema public to the application role (tables first: they take their sequences along). */
    private static final String ADOPT_SUPERUSER_OBJECTS = """
            DO $$
            DECLARE r record;
            BEGIN
              FOR r IN SELECT c.oid::regclass AS name FROM pg_class c
                        WHERE c.relnamespace = 'public'::regnamespace AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
                          AND c.relkind IN ('r', 'p', 'v', 'm', 'f') LOOP
                EXECUTE format('ALTER TABLE %s OWNER TO fedlora', r.name);
              END LOOP;
              FOR r IN SELECT c.oid::regclass AS name FROM pg_class c
                        WHERE c.relnamespace = 'public'::regnamespace AND c.relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)
                          AND c.relkind = 'S' LOOP
                EXECUTE format('ALTER SEQUENCE %s OWNER TO fedlora', r.name);
              END LOOP;
              FOR r IN SELECT p.oid::regprocedure AS name FROM pg_proc p
                        WHERE p.pronamespace = 'public'::regnamespace AND p.proowner = (SELECT oid FROM pg_roles WHERE rolname = current_user) LOOP
                EXECUTE format('ALTER ROUTINE %s OWNER TO fedlora', r.name);
              END LOOP;
            END $$""";

    /** A JDBC connection to {@code database} on loopback {@code port} as {@code who}. */
    private static Connection connect(int port, String database, Credentials who) throws SQLException {
        return DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/" + database, who.user(),
                who.password());
    }

    /**
     * The superuser's credentials from its password file. Without the file (a new cluster, or one made by an older
     * fedlora that trusted loopback) a new password is set in single-user mode, which needs no login, and only then
     * written to the file: a crash in between leaves no file, so the next start simply sets another one.
     */
    private static Credentials superuserCredentials(Path dir, PostgresTool tool) throws IOException {
        Path file = PasswordFile.in(dir, SUPERUSER);
        Optional<String> stored = PasswordFile.read(file);
        if (stored.isPresent()) {
            return new Credentials(SUPERUSER, stored.get());
        }
        String password = PasswordFile.generate();
        PostgresTool.Result result = tool.run("postgres",
                List.of("--single", "-D", dir.toString(), "-c", "password_encryption=scram-sha-256", "postgres"),
                "ALTER ROLE " + SUPERUSER + " WITH PASSWORD '" + password + "';\n", INITDB_TIMEOUT_S);
        if (!result.ok() || result.output().contains("ERROR")) {
            throw new EmbeddedPostgresException("Cannot set the PostgreSQL superuser password in " + dir
                    + " (single-user mode exit " + result.exitCode() + "):\n" + result.tail().replace(password, "(hidden)"));
        }
        PasswordFile.write(file, password);
        log.info("Generated the PostgreSQL superuser password into {}", file);
        return new Credentials(SUPERUSER, password);
    }

    /**
     * Creates {@value #APP_ROLE} (or resets its rights, and its password when its file is missing), so it can never
     * hold more than login rights whatever an older version or a person did to it.
     */
    private static Credentials ensureApplicationRole(Path dir, int port, Credentials superuser) {
        Path file = PasswordFile.in(dir, APP_ROLE);
        try (Connection connection = connect(port, "postgres", superuser); Statement st = connection.createStatement()) {
            Optional<String> stored = PasswordFile.read(file);
            String password = stored.orElseGet(() -> PasswordFile.generate());
            boolean exists;
            try (ResultSet rows = st.executeQuery("SELECT 1 FROM pg_roles WHERE rolname = '" + APP_ROLE + "'")) {
                exists = rows.next();
            }
            String rights = " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS";
            if (!exists) {
                st.execute("CREATE ROLE " + APP_ROLE + rights + " PASSWORD '" + password + "'");
                log.info("Created PostgreSQL role {} (no superuser, createdb or createrole rights)", APP_ROLE);
            } else {
                st.execute("ALTER ROLE " + APP_ROLE + rights + (stored.isEmpty() ? " PASSWORD '" + password + "'" : ""));
            }
            // a role granted pg_read_server_files & co. by hand would get file access back
            st.execute("DO $$ DECLARE r record; BEGIN FOR r IN SELECT g.rolname FROM pg_auth_members m "
                    + "JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = '"
                    + APP_ROLE + "' LOOP EXECUTE format('REVOKE %I FROM " + APP_ROLE + "', r.rolname); END LOOP; END $$");
            if (stored.isEmpty()) {
                PasswordFile.write(file, password);
                log.info("Generated the password of PostgreSQL role {} into {}", APP_ROLE, file);
            }
            return new Credentials(APP_ROLE, password);
        } catch (SQLException | IOException e) {
            throw new EmbeddedPostgresException("Cannot prepare PostgreSQL role " + APP_ROLE + " in " + dir + ": "
                    + e.getMessage() + (e.getMessage() != null && e.getMessage().contains("password authentication failed")
                            ? " (the superuser password in " + PasswordFile.in(dir, SUPERUSER)
                                    + " does not match the cluster; delete that file to have a new one set)" : ""), e);
        }
    }

    /** Stops the server (fast shutdown: open transactions are rolled back, data is flushed). Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running or about to; stopping here as well is harmless
        }
        stop();
    }

    private synchronized void stopQuietly() {
        if (closed) {
            return;
        }
        try {
            stop();
        } catch (RuntimeException e) {
            log.warn("Could not stop embedded PostgreSQL on {}: {}", dataDir, e.getMessage());
        }
    }

    private void stop() {
        closed = true;
        try {
            stopServer();
        } finally {
            lock.close();
        }
    }

    private void stopServer() {
        Optional<PostmasterPid> current = PostmasterPid.read(dataDir);
        if (current.isEmpty() || current.get().pid() != pid) {
            log.info("Embedded PostgreSQL pid {} on {} no longer owns the data dir (now {}); not stopping it",
                    pid, dataDir, current.map(p -> "pid " + p.pid()).orElse("no server"));
            return;
        }
        shutDown(dataDir, tool);
        log.info("Embedded PostgreSQL on port {} stopped (data dir {})", port, dataDir);
    }

    /** Runs initdb unless dir holds a cluster; no server can be running on a dir without one. */
    private static void initialiseIfMissing(Path dir, PostgresTool tool, ProcessIdentity identity) throws IOException {
        if (Files.exists(dir.resolve("PG_VERSION"))) {
            return;
        }
        Files.createDirectories(dir.getParent());
        Path target;
        if (Files.isDirectory(dir)) {
            try (Stream<Path> entries = Files.list(dir)) {
                if (entries.findAny().isPresent()) {
                    throw new EmbeddedPostgresException("Data dir " + dir
                            + " is not empty but holds no PostgreSQL cluster (no PG_VERSION); refusing to initialise it");
                }
            }
            target = dir; // may be a mount point: initialise in place
        } else {
            // initialise next to it and rename, so a killed initdb never leaves a half-made cluster at dir
            target = dir.resolveSibling("." + dir.getFileName() + ".initdb-" + UUID.randomUUID());
            Files.createDirectory(target);
        }
        Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("rwx------"));
        identity.takeOwnership(target, PasswordFile::isPasswordFile);
        log.info("Initialising PostgreSQL cluster in {}", dir);
        // "reject" until the first start: pg_hba.conf is rewritten to scram-sha-256 before any server runs
        PostgresTool.Result result = tool.run("initdb",
                List.of("-A", "reject", "-U", SUPERUSER, "-E", "UTF8", "--no-locale", "-D", target.toString()),
                INITDB_TIMEOUT_S);
        if (!result.ok()) {
            if (!target.equals(dir)) {
                PostgresBinaries.deleteRecursively(target);
            }
            throw new EmbeddedPostgresException("initdb failed for " + dir + " (exit " + result.exitCode() + "):\n"
                    + result.tail());
        }
        if (!target.equals(dir)) {
            Files.move(target, dir, StandardCopyOption.ATOMIC_MOVE);
        }
    }

    private static void stopStaleServer(Path dir, PostgresTool tool) {
        Optional<PostmasterPid> stale = PostmasterPid.read(dir);
        if (stale.isEmpty() || !stale.get().alive()) {
            return; // a pid file of a dead server is cleaned up by PostgreSQL itself
        }
        long pid = stale.get().pid();
        if (!stale.get().servesDataDir(dir)) {
            log.warn("postmaster.pid in {} names pid {}, which is not a PostgreSQL server on this data dir; "
                    + "removing the stale file", dir, pid);
            try {
                Files.deleteIfExists(dir.resolve(PostmasterPid.FILE_NAME));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return;
        }
        log.warn("PostgreSQL pid {} (port {}) is still running on {}, probably left by a killed process; stopping it",
                pid, stale.get().port(), dir);
        shutDown(dir, tool);
    }

    /** pg_ctl stop -m fast, falling back to immediate. */
    private static void shutDown(Path dir, PostgresTool tool) {
        PostgresTool.Result fast = tool.run("pg_ctl",
                List.of("stop", "-D", dir.toString(), "-m", "fast", "-w", "-t", String.valueOf(STOP_TIMEOUT_S)),
                STOP_TIMEOUT_S + 10);
        if (fast.ok() || !serverRunning(dir)) {
            return;
        }
        log.warn("Fast shutdown of PostgreSQL on {} failed, using immediate: {}", dir, fast.tail());
        PostgresTool.Result immediate = tool.run("pg_ctl",
                List.of("stop", "-D", dir.toString(), "-m", "immediate", "-w", "-t", String.valueOf(STOP_TIMEOUT_S)),
                STOP_TIMEOUT_S + 10);
        if (!immediate.ok() && serverRunning(dir)) {
            throw new EmbeddedPostgresException("Cannot stop PostgreSQL on " + dir + ":\n" + immediate.tail());
        }
    }

    private static boolean serverRunning(Path dir) {
        return PostmasterPid.read(dir).map(PostmasterPid::alive).orElse(false);
    }

    private static long startServer(Path dir, PostgresTool tool, int port) {
        Path logFile = dir.resolve(LOG_FILE);
        long logOffset = size(logFile);
        PostgresTool.Result result = tool.run("pg_ctl", List.of(
                "start", "-w", "-t", String.valueOf(START_TIMEOUT_S), "-D", dir.toString(), "-l", logFile.toString(),
                "-o", "-p " + port + " -h 127.0.0.1 -k '' -c password_encryption=scram-sha-256"), START_TIMEOUT_S + 30);
        if (!result.ok()) {
            String serverLog = readFrom(logFile, logOffset);
            if (serverLog.contains("could not bind") || serverLog.contains("Address already in use")) {
                throw new PortInUseException("Port " + port + " is in use:\n" + tail(serverLog));
            }
            throw new EmbeddedPostgresException("PostgreSQL did not start on " + dir + " port " + port
                    + " (pg_ctl exit " + result.exitCode() + "):\n" + result.tail() + "\nServer log " + logFile + ":\n"
                    + tail(serverLog));
        }
        return PostmasterPid.read(dir).map(PostmasterPid::pid).orElseThrow(() -> new EmbeddedPostgresException(
                "PostgreSQL reported started on " + dir + " but wrote no postmaster.pid"));
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new EmbeddedPostgresException("Cannot find a free TCP port on loopback", e);
        }
    }

    private static long size(Path file) {
        try {
            return Files.exists(file) ? Files.size(file) : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    private static String readFrom(Path file, long offset) {
        try {
            if (!Files.exists(file)) {
                return "(no server log)";
            }
            byte[] bytes = Files.readAllBytes(file);
            int from = (int) Math.min(offset, bytes.length);
            return new String(bytes, from, bytes.length - from, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e.getMessage() + ")";
        }
    }

    private static String tail(String text) {
        return new PostgresTool.Result(0, text).tail();
    }

    /** The chosen port was taken between choosing and binding; a fresh one is tried. */
    private static final class PortInUseException extends EmbeddedPostgresException {
        PortInUseException(String message) {
            super(message);
        }
    }
}
