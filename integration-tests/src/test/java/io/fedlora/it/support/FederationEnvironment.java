package io.fedlora.it.support;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.ObjectMapper;

import io.fedlora.db.testing.TestPostgres;
import io.fedlora.demo.admin.AdminClient;
import io.fedlora.demo.process.ChildProcess;
import io.fedlora.demo.process.CoordinatorProcess;
import io.fedlora.demo.process.CoordinatorSettings;
import io.fedlora.demo.process.FederationProcesses;
import io.fedlora.demo.process.FedloraHome;
import io.fedlora.demo.process.JavaCommand;
import io.fedlora.demo.process.ProcessLauncher;
import io.fedlora.demo.run.FederationDriver;

/**
 * What the end-to-end tests share within one test JVM: the checkout's built modules, a work directory,
 * one generated model with its client datasets, and one coordinator process on real PostgreSQL
 * (from {@link TestPostgres}, so tests can read its rows and restart it on the same database).
 * Every process started here is stopped when the JVM's test run ends.
 */
public final class FederationEnvironment implements ExtensionContext.Store.CloseableResource {

    private static final Logger log = LoggerFactory.getLogger(FederationEnvironment.class);

    /** Clients in the shared data set. */
    public static final int CLIENTS = 3;
    public static final long SEED = 42;
    static final Duration READY = Duration.ofMinutes(3);

    private final Path home;
    private final Path work;
    private final ProcessLauncher launcher;
    private final FederationProcesses processes;
    private final ObjectMapper mapper = new ObjectMapper();
    private final List<Coordinator> coordinators = new ArrayList<>();
    /** init-model's output per model family, each made once. */
    private final java.util.Map<String, Path> initDirs = new java.util.HashMap<>();
    private Coordinator shared;

    FederationEnvironment() {
        this.home = FedloraHome.locate();
        try {
            this.work = Files.createDirectories(home.resolve("integration-tests/target/it-work")
                    .resolve(LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss-SSS"))));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        this.launcher = new ProcessLauncher(work.resolve("logs"));
        this.processes = new FederationProcesses(home, launcher);
        log.info("end-to-end work directory {}", work);
    }

    public Path work() {
        return work;
    }

    public ObjectMapper mapper() {
        return mapper;
    }

    public FederationProcesses processes() {
        return processes;
    }

    /** A fresh directory under the work directory. */
    public Path newDir(String name) {
        try {
            return Files.createDirectories(work.resolve(name));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** init-model's default family (GPT-2, {@code Conv1D} weights). */
    public static final String GPT2 = "gpt2";
    /** The Llama family ({@code nn.Linear} weights, grouped-query attention, untied head). */
    public static final String LLAMA = "llama";

    /** The generated GPT-2 model and datasets ({@code model/}, {@code clients/client-<i>/}), made once. */
    public Path initDir() throws InterruptedException {
        return initDir(GPT2);
    }

    /** As {@link #initDir()} for a model family init-model writes ({@link #GPT2}, {@link #LLAMA}), made once per family. */
    public synchronized Path initDir(String family) throws InterruptedException {
        Path dir = initDirs.get(family);
        if (dir == null) {
            dir = work.resolve(GPT2.equals(family) ? "init" : "init-" + family);
            processes.initModel(dir, CLIENTS, SEED, family, Duration.ofMinutes(5));
            initDirs.put(family, dir);
        }
        return dir;
    }

    public Path modelDir() throws InterruptedException {
        return modelDir(GPT2);
    }

    public Path modelDir(String family) throws InterruptedException {
        return initDir(family).resolve("model");
    }

    /** Client {@code i}'s dataset, 0-based here; init-model numbers its directories from 1. */
    public Path clientData(int i) throws InterruptedException {
        return clientData(GPT2, i);
    }

    /** As {@link #clientData(int)} for the datasets init-model wrote with a family's model (its tokenizer). */
    public Path clientData(String family, int i) throws InterruptedException {
        return initDir(family).resolve("clients").resolve("client-" + (i + 1));
    }

    /** The coordinator shared by tests that do not disturb it. */
    public synchronized Coordinator sharedCoordinator() throws InterruptedException {
        if (shared == null || !shared.process().process().isAlive()) {
            shared = startCoordinator("coordinator-shared");
        }
        return shared;
    }

    /** A new coordinator on its own fresh database and data directory. */
    public synchronized Coordinator startCoordinator(String name) throws InterruptedException {
        return startCoordinator(name, List.of(), UnaryOperator.identity());
    }

    /**
     * As {@link #startCoordinator(String)} with {@code extraArgs} added to its Spring arguments (kept on a
     * {@link #restart}), and its command line's arguments passed through {@code commandLine} first (a test that
     * leaves options out).
     */
    public synchronized Coordinator startCoordinator(String name, List<String> extraArgs,
                                                     UnaryOperator<List<String>> commandLine) throws InterruptedException {
        TestPostgres postgres = TestPostgres.instance();
        Database database = new Database(postgres.newDatabase(), postgres.username(), postgres.password());
        List<String> args = new ArrayList<>(database.springArgs());
        args.addAll(extraArgs);
        CoordinatorSettings settings = CoordinatorSettings.onFreePorts(name, work.resolve(name), args);
        CoordinatorProcess process = new CoordinatorProcess(launchCoordinator(settings, commandLine), settings);
        processes.awaitHealthy(process, READY);
        Coordinator coordinator = new Coordinator(process, database);
        coordinators.add(coordinator);
        return coordinator;
    }

    /**
     * Starts a coordinator process for {@code settings} without waiting for it to become healthy (it may be expected
     * to refuse to start), its program arguments passed through {@code commandLine}.
     */
    public ChildProcess launchCoordinator(CoordinatorSettings settings, UnaryOperator<List<String>> commandLine) {
        JavaCommand cmd = processes.coordinatorCommand(settings);
        return processes.launcher().start(new JavaCommand(cmd.name(), cmd.classpath(), cmd.jvmOptions(), cmd.mainClass(),
                commandLine.apply(cmd.args()), cmd.environment()));
    }

    /**
     * Starts the same coordinator again (same ports, key, data directory and database) after it
     * was killed, and waits until it is healthy.
     */
    public synchronized Coordinator restart(Coordinator old) throws InterruptedException {
        if (old.process().process().isAlive()) {
            throw new IllegalStateException(old.process().process() + " is still running");
        }
        Coordinator again = new Coordinator(processes.startCoordinator(old.process().settings(), READY), old.database());
        coordinators.add(again);
        if (shared == old) {
            shared = again;
        }
        return again;
    }

    /** A driver for federations on {@code coordinator}. */
    public FederationDriver driver(Coordinator coordinator) {
        return new FederationDriver(admin(coordinator), processes, coordinator.process());
    }

    public AdminClient admin(Coordinator coordinator) {
        return new AdminClient(coordinator.process().baseUri(), coordinator.process().apiKey(), mapper);
    }

    @Override
    public void close() {
        launcher.close();
    }

    /** A coordinator process and the database it keeps its state in. */
    public record Coordinator(CoordinatorProcess process, Database database) {
    }
}
