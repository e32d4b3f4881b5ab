package io.fedlora.coordinator.support;

import io.fedlora.coordinator.CoordinatorApplication;
import io.fedlora.coordinator.client.ClientService;
import io.fedlora.coordinator.clientapi.ClientGateway;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.federation.FederationService;
import io.fedlora.coordinator.federation.FederationSpec;
import io.fedlora.coordinator.federation.FederationStatus;
import io.fedlora.db.testing.TestPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;
import org.springframework.context.annotation.Primary;
import org.springframework.boot.test.autoconfigure.actuate.observability.AutoConfigureObservability;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * One Spring context (real PostgreSQL database, temp data dir, fast scheduler tick) shared by every
 * test class extending this; tests isolate themselves by creating their own federations.
 */
@AutoConfigureObservability
@SpringBootTest(classes = CoordinatorApplication.class, webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
        properties = {"spring.grpc.server.port=0", "fedlora.scheduler.tick=50ms", "fedlora.admin.api-key=" + CoordinatorTestBase.API_KEY})
@Import(CoordinatorTestBase.ClockOverride.class)
public abstract class CoordinatorTestBase {

    /** Replaces the coordinator's clock with one tests can move forward; records accepted updates. */
    @TestConfiguration(proxyBeanMethods = false)
    static class ClockOverride {
        @Bean
        @Primary
        TestClock testClock() {
            return new TestClock();
        }

        @Bean
        RecordingUpdateListener recordingUpdateListener() {
            return new RecordingUpdateListener();
        }
    }

    public static final String API_KEY = "test-admin-key";
    private static final AtomicInteger NAMES = new AtomicInteger();

    /** The database and data directory of the shared context, created once per JVM. */
    static final class Shared {
        static final String URL = TestPostgres.instance().newDatabase();
        static final Path DATA_DIR = tempDir("fedlora-coordinator-test");
        static final Path MODEL_DIR = tiny(DATA_DIR.resolveSibling(DATA_DIR.getFileName() + "-model"), false);
    }

    @DynamicPropertySource
    static void database(DynamicPropertyRegistry registry) {
        registry.add("spring.datasource.url", () -> Shared.URL);
        registry.add("spring.datasource.username", () -> TestPostgres.instance().username());
        registry.add("spring.datasource.password", () -> TestPostgres.instance().password());
        registry.add("fedlora.data-dir", () -> Shared.DATA_DIR.toString());
    }

    @Autowired protected FederationService federations;
    @Autowired protected ClientService clientService;
    @Autowired protected ClientGateway gateway;
    @Autowired protected JdbcClient jdbc;
    @Autowired protected TestClock clock;
    @Autowired protected RecordingUpdateListener acceptedUpdates;

    @AfterEach
    void resetClock() {
        clock.reset();
    }

    protected static Path modelDir() {
        return Shared.MODEL_DIR;
    }

    protected static String uniqueName(String prefix) {
        return prefix + "-" + NAMES.incrementAndGet() + "-" + System.nanoTime();
    }

    /** A spec on the tiny model with the given knobs; everything else small and fast. */
    protected static FederationSpec spec(String name, int rounds, int minClients, int clientsMinimum, int deadlineSeconds,
            int retries, boolean evaluate, String strategy) {
        return new FederationSpec(name, modelDir().toString(), List.of("c_attn"), 4, 8.0, false, strategy, "examples",
                rounds, new FederationSpec.ClientsPerRound(1.0, clientsMinimum), deadlineSeconds, minClients, retries,
                evaluate, new FederationSpec.TrainingSpec(1, 0, 2, 1e-3, 0.0, 1.0, 42L, 16), 1000.0);
    }

    protected Federation createAndStart(FederationSpec spec) {
        Federation f = federations.create(spec, "test");
        return federations.start(f.id(), "test");
    }

    protected List<SimulatedClient> enrol(Federation f, long... examples) {
        List<String> tokens = clientService.issueTokens(f.id(), examples.length, Duration.ofMinutes(10), "test").stream()
                .map(ClientService.IssuedToken::token).toList();
        List<SimulatedClient> out = new java.util.ArrayList<>();
        for (int i = 0; i < examples.length; i++) {
            out.add(new SimulatedClient(gateway, tokens.get(i), "client-" + NAMES.incrementAndGet(), examples[i], 100 + i));
        }
        return out;
    }

    protected FederationStatus status(String federationId) {
        return federations.get(federationId).status();
    }

    public static void await(String what, Duration timeout, BooleanSupplier condition) {
        Instant end = Instant.now().plus(timeout);
        while (!condition.getAsBoolean()) {
            if (Instant.now().isAfter(end)) {
                throw new AssertionError("timed out after " + timeout + " waiting for " + what);
            }
            try {
                Thread.sleep(25);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    protected void awaitStatus(String federationId, FederationStatus s, Duration timeout) {
        await("federation " + federationId + " to be " + s, timeout, () -> status(federationId) == s);
    }

    static Path tempDir(String prefix) {
        try {
            return Files.createTempDirectory(prefix);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Path tiny(Path dir, boolean prefix) {
        try {
            return TinyGpt2.write(dir, prefix);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
