package io.fedlora.db.testing;

import io.fedlora.db.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@link EmbeddedPostgres} on a throw-away temp directory, stopped and deleted when the JVM exits. */
final class EmbeddedServer implements PostgresServer {

    private static final Logger log = LoggerFactory.getLogger(EmbeddedServer.class);

    private final EmbeddedPostgres postgres;

    private EmbeddedServer(EmbeddedPostgres postgres) {
        this.postgres = postgres;
    }

    static EmbeddedServer start() {
        Path dir;
        try {
            dir = Files.createTempDirectory("fedlora-test-pg-");
            // searchable (not listable) by others: a root JVM runs PostgreSQL as an unprivileged uid without capabilities
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot create a temp dir for the test PostgreSQL", e);
        }
        EmbeddedPostgres postgres = EmbeddedPostgres.start(dir.resolve("data"), 0);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            postgres.close();
            delete(dir);
        }, "test-postgres-cleanup"));
        return new EmbeddedServer(postgres);
    }

    @Override
    public String jdbcUrl(String database) {
        return postgres.jdbcUrl(database);
    }

    @Override
    public void createDatabase(String name) {
        postgres.createDatabaseIfMissing(name);
    }

    @Override
    public String username() {
        return postgres.user();
    }

    @Override
    public String password() {
        return postgres.password();
    }

    @Override
    public String kind() {
        return "embedded";
    }

    private static void delete(Path dir) {
        try {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.deleteIfExists(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
                    Files.deleteIfExists(d);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            log.warn("Could not delete test PostgreSQL dir {}: {}", dir, e.getMessage());
        }
    }
}
