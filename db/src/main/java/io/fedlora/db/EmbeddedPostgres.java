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
 * 127.0.0.1 only with trust authentication for user {@code postgres}, and no Unix socket. Each instance holds an
 * exclusive lock on {@value DataDirLock#FILE_NAME} in the data directory for its whole life, so a second launcher
 * on a directory in use is refused instead of stopping the first one's server. A server that a killed JVM left
 * running on the same data directory (its lock released by the OS) is stopped before this one starts. When the JVM runs as root
 * (PostgreSQL refuses to), every PostgreSQL binary runs as uid 65534 through {@code setpriv}, and the data
 * directory is chowned to that uid.
 */
public final class EmbeddedPostgres implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(EmbeddedPostgres.class);
    private static final String USER = "postgres";
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
    private final Thread shutdownHook;
    private boolean closed;

    private EmbeddedPostgres(Path dataDir, PostgresTool tool, int port, long pid, DataDirLock lock) {
        this.dataDir = dataDir;
        this.tool = tool;
        this.port = port;
        this.pid = pid;
        this.lock = lock;
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
        log.info("Embedded PostgreSQL: binaries {}, data dir {}, {}", binaries.home(), dir,
                identity.dropsPrivileges() ? "running as uid " + identity.unprivilegedUid() + " via setpriv (JVM is root), keeping "
                        + identity.capabilities()
                        : "running as the JVM's user");
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
                identity.takeOwnership(dir);
            }
        } catch (IOException e) {
            throw new EmbeddedPostgresException("Cannot prepare PostgreSQL data dir " + dir + ": " + e.getMessage(), e);
        }
        stopStaleServer(dir, tool);

        EmbeddedPostgresException lastFailure = null;
        for (int attempt = 1; attempt <= (port == 0 ? PORT_ATTEMPTS : 1); attempt++) {
            int chosen = port == 0 ? freePort() : port;
            try {
                long pid = startServer(dir, tool, chosen);
                EmbeddedPostgres server = new EmbeddedPostgres(dir, tool, chosen, pid, lock);
                log.info("Embedded PostgreSQL listening on 127.0.0.1:{} (pid {}, data dir {})", chosen, pid, dir);
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

    /** The superuser to connect as; no password (trust authentication on loopback). */
    public String user() {
        return USER;
    }

    /** Creates {@code name} unless it exists; safe when several callers race. */
    public void createDatabaseIfMissing(String name) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("database name must not be blank");
        }
        try (Connection connection = DriverManager.getConnection(jdbcUrl("postgres"), USER, "")) {
            try (PreparedStatement query = connection.prepareStatement("SELECT 1 FROM pg_database WHERE datname = ?")) {
                query.setString(1, name);
                try (ResultSet rows = query.executeQuery()) {
                    if (rows.next()) {
                        return;
                    }
                }
            }
            try (Statement create = connection.createStatement()) {
                create.execute("CREATE DATABASE \"" + name.replace("\"", "\"\"") + "\"");
                log.info("Created database {} on embedded PostgreSQL port {}", name, port);
            } catch (SQLException e) {
                // 42P04 duplicate_database; 23505 when a concurrent CREATE DATABASE won the race on pg_database
                if (!"42P04".equals(e.getSQLState()) && !"23505".equals(e.getSQLState())) {
                    throw e;
                }
            }
        } catch (SQLException e) {
            throw new EmbeddedPostgresException("Cannot create database " + name + " on " + jdbcUrl("postgres") + ": "
                    + e.getMessage(), e);
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
        identity.takeOwnership(target);
        log.info("Initialising PostgreSQL cluster in {}", dir);
        PostgresTool.Result result = tool.run("initdb",
                List.of("-A", "trust", "-U", USER, "-E", "UTF8", "--no-locale", "-D", target.toString()), INITDB_TIMEOUT_S);
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
                "-o", "-p " + port + " -h 127.0.0.1 -k ''"), START_TIMEOUT_S + 30);
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
