package io.fedlora.db.testing;

import java.util.Locale;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One real PostgreSQL per test JVM, shared by all tests, each of which takes its own fresh database from
 * {@link #newDatabase()}. Testcontainers' PostgreSQL is used when a Docker engine answers, else
 * {@link io.fedlora.db.EmbeddedPostgres} on a temp directory; both are real PostgreSQL 17, never an imitation.
 * The embedded server hands tests its non-superuser application role, as the coordinator gets in production, so
 * a migration or query that needs more rights fails in tests too.
 * Set {@code -Dfedlora.test.postgres=embedded|testcontainers} (or env {@code FEDLORA_TEST_POSTGRES}) to force one.
 */
public final class TestPostgres {

    private static final Logger log = LoggerFactory.getLogger(TestPostgres.class);

    private final PostgresServer server;

    private TestPostgres(PostgresServer server) {
        this.server = server;
    }

    /** The JVM-wide instance, started on first use. */
    public static TestPostgres instance() {
        Holder.Outcome outcome = Holder.OUTCOME;
        if (outcome.failure() != null) {
            throw new IllegalStateException("The test PostgreSQL could not be started", outcome.failure());
        }
        return outcome.postgres();
    }

    /** Creates an empty database with a unique name and returns its JDBC URL. */
    public String newDatabase() {
        String name = "t_" + UUID.randomUUID().toString().replace("-", "").toLowerCase(Locale.ROOT);
        server.createDatabase(name);
        return server.jdbcUrl(name);
    }

    public String username() {
        return server.username();
    }

    public String password() {
        return server.password();
    }

    /** "testcontainers" or "embedded". */
    public String kind() {
        return server.kind();
    }

    private static TestPostgres create() {
        String forced = System.getProperty("fedlora.test.postgres", System.getenv().getOrDefault("FEDLORA_TEST_POSTGRES", "auto"))
                .strip().toLowerCase(Locale.ROOT);
        long started = System.nanoTime();
        PostgresServer server = switch (forced) {
            case "embedded" -> EmbeddedServer.start();
            case "testcontainers" -> ContainerServer.start();
            case "auto", "" -> DockerProbe.forThisProcess().dockerAvailable() ? containerOrEmbedded() : EmbeddedServer.start();
            default -> throw new IllegalArgumentException(
                    "fedlora.test.postgres must be embedded, testcontainers or auto, was " + forced);
        };
        log.info("Test PostgreSQL: {} at {} (ready in {} ms)", server.kind(), server.jdbcUrl("postgres"),
                (System.nanoTime() - started) / 1_000_000);
        return new TestPostgres(server);
    }

    /** A Docker engine answered, but it may still fail to start the container (no image offline, for one). */
    private static PostgresServer containerOrEmbedded() {
        try {
            return ContainerServer.start();
        } catch (RuntimeException e) {
            log.warn("Docker answered but the PostgreSQL container ({}) did not start ({}); using the embedded server",
                    ContainerServer.IMAGE, e.toString());
            return EmbeddedServer.start();
        }
    }

    /** Lazily starts the server once; remembers a failure so every caller sees its cause. */
    private static final class Holder {
        record Outcome(TestPostgres postgres, RuntimeException failure) {
        }

        static final Outcome OUTCOME = attempt();

        private static Outcome attempt() {
            try {
                return new Outcome(create(), null);
            } catch (RuntimeException e) {
                log.error("Could not start the test PostgreSQL", e);
                return new Outcome(null, e);
            }
        }
    }
}
