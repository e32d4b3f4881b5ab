package io.fedlora.demo.run;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

import com.fasterxml.jackson.databind.ObjectMapper;

import io.fedlora.demo.admin.AdminClient;
import io.fedlora.demo.admin.FederationSpec;
import io.fedlora.demo.admin.FederationView;
import io.fedlora.demo.admin.RoundView;
import io.fedlora.demo.cli.DemoOptions;
import io.fedlora.demo.process.ChildProcess;
import io.fedlora.demo.process.CoordinatorProcess;
import io.fedlora.demo.process.CoordinatorSettings;
import io.fedlora.demo.process.FederationProcesses;
import io.fedlora.demo.process.ProcessLauncher;
import io.fedlora.demo.report.ProgressPrinter;
import io.fedlora.demo.report.RoundResult;
import io.fedlora.demo.report.RunResult;

/**
 * Runs the demo end to end: generates the model and datasets, starts a coordinator (with its
 * embedded PostgreSQL) and the agents as child processes, runs one federation per requested
 * strategy on the same inputs, exports each final model, and stops every process it started.
 */
public final class DemoRunner {

    /** How init-model's last line starts: the base model's held-out loss and exact match per task family. */
    private static final String INIT_SUMMARY = "init-model: base model";

    private static final Duration INIT_TIMEOUT = Duration.ofMinutes(5);
    private static final Duration COORDINATOR_READY = Duration.ofMinutes(3);
    private static final Duration ENROLMENT = Duration.ofMinutes(3);
    private static final Duration FINAL_EVALUATION = Duration.ofSeconds(90);

    /**
     * What a demo produced: its runs, where it wrote them and what became of that directory ({@link WorkDirPolicy}).
     */
    public record Outcome(Path workDir, List<RunResult> runs, WorkDirPolicy.Result cleanup) {

        /** The work directory is gone, and with it the logs and the export. */
        public boolean workDirRemoved() {
            return cleanup.removed();
        }
    }

    private final Path home;
    private final PrintStream out;
    private final ObjectMapper mapper;
    private final long startNanos = System.nanoTime();
    /** Set first thing by the SIGINT/SIGTERM hook: the main thread's failures from then on are the interrupt's doing. */
    private final AtomicBoolean interrupted = new AtomicBoolean();

    public DemoRunner(Path home, PrintStream out, ObjectMapper mapper) {
        this.home = home;
        this.out = out;
        this.mapper = mapper;
    }

    /**
     * Runs the demo. A temporary work directory is removed after a successful run unless {@code --keep}; one the user
     * named with {@code --work-dir} is theirs and stays. A failed run keeps it (the failure names its logs). On
     * SIGINT/SIGTERM a shutdown hook stops the children (agents, then the coordinator, which stops its embedded
     * PostgreSQL; a PostgreSQL it left running is stopped too) and prints where the work directory is; it is kept.
     */
    public Outcome run(DemoOptions options) throws IOException, InterruptedException {
        WorkDirPolicy policy = WorkDirPolicy.of(options);
        Path work = WorkDir.prepare(options.workDir().isEmpty() ? WorkDir.freshTemporary() : options.workDir().get());
        say("work directory " + work + (policy.removesOnSuccess() ? " (removed after a successful run; --keep keeps it)" : ""));
        ProcessLauncher launcher = new ProcessLauncher(work.resolve("logs"));
        Thread hook = new Thread(() -> {
            interrupted.set(true);
            System.err.println("fedlora demo: interrupted; stopping the agents, the coordinator and its embedded PostgreSQL");
            stopEverything(launcher, work);
            System.err.println("fedlora demo: interrupted; child processes stopped; work directory kept: " + work
                    + " (logs in " + work.resolve("logs") + ")");
            System.err.flush();
        }, "fedlora-demo-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        boolean removed = false;
        try {
            List<RunResult> runs = runAll(options, work, new FederationProcesses(home, launcher));
            // first everything that writes under work, the embedded PostgreSQL included, then the removal
            stopEverything(launcher, work);
            WorkDirPolicy.Result cleanup = policy.finish(work,
                    interrupted.get() ? WorkDirPolicy.Ending.INTERRUPTED : WorkDirPolicy.Ending.SUCCEEDED);
            removed = cleanup.removed();
            return new Outcome(work, runs, cleanup);
        } catch (RuntimeException | IOException | InterruptedException e) {
            if (interrupted.get()) {
                throw new DemoInterrupted(e);
            }
            stopEverything(launcher, work);
            throw new DemoFailure(e.getMessage() + System.lineSeparator() + policy.finish(work, WorkDirPolicy.Ending.FAILED).line()
                    + ", log files " + launcher.started().stream().map(c -> c.logFile().getFileName().toString()).distinct().toList(), e);
        } finally {
            if (!removed) {
                // the coordinator is stopped: its key file has nothing left to open, success or not
                Files.deleteIfExists(work.resolve("admin-api-key"));
            }
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running or has run; nothing to remove
            }
        }
    }

    /** Stops every child, then a PostgreSQL the coordinator failed to stop (it was killed after its grace period). */
    private static void stopEverything(ProcessLauncher launcher, Path work) {
        launcher.close();
        LeftoverPostgres.stop(work.resolve("coordinator").resolve("postgres"));
        try {
            Files.deleteIfExists(work.resolve("admin-api-key"));
        } catch (IOException e) {
            // best effort: the coordinator it opened is gone
        }
    }

    private List<RunResult> runAll(DemoOptions options, Path work, FederationProcesses processes)
            throws IOException, InterruptedException {
        Path init = work.resolve("init");
        say("generating a " + ("llama".equals(options.family()) ? "Llama" : "GPT-2") + "-layout model and " + options.clients() + " non-IID client datasets (seed " + options.seed() + ")");
        ChildProcess initModel = processes.initModel(init, options.clients(), options.seed(), options.family(), INIT_TIMEOUT);
        // its summary: how good the pre-trained base already is, so the federation's gains have a reference
        try (java.util.stream.Stream<String> lines = java.nio.file.Files.lines(initModel.logFile())) {
            lines.filter(l -> l.startsWith(INIT_SUMMARY)).reduce((a, b) -> b)
                    .ifPresent(l -> say("base model: " + l.substring(INIT_SUMMARY.length()).strip()));
        }

        say("starting the coordinator (embedded PostgreSQL under " + work.resolve("coordinator") + ")");
        CoordinatorProcess coordinator = processes.startCoordinator(
                CoordinatorSettings.onFreePorts("coordinator", work.resolve("coordinator"),
                        // heartbeats every 2 s: they carry the agents' training steps the progress lines show
                        List.of("--fedlora.grpc.heartbeat-interval=2s")), COORDINATOR_READY);
        say("coordinator up: REST " + coordinator.baseUri() + ", gRPC " + coordinator.grpcAddress());
        // the key is never printed: a person watching the dashboard reads it from a file only this user can read
        Path keyFile = WorkDir.writePrivate(work.resolve("admin-api-key"), coordinator.apiKey());
        say("dashboard: " + coordinator.baseUri() + "/dashboard/ (API key in " + keyFile + "; API reference "
                + coordinator.baseUri() + "/swagger-ui.html)");

        AdminClient admin = new AdminClient(coordinator.baseUri(), coordinator.apiKey(), mapper);
        FederationDriver driver = new FederationDriver(admin, processes, coordinator);
        List<RunResult> runs = new ArrayList<>();
        for (String strategy : options.strategiesToRun()) {
            runs.add(runOne(options, strategy, work, init, driver));
        }
        return runs;
    }

    private RunResult runOne(DemoOptions options, String strategy, Path work, Path init, FederationDriver driver)
            throws InterruptedException {
        long t0 = System.nanoTime();
        String prefix = options.compare() ? "[" + strategy + "] " : "";
        FederationSpec spec = DemoFederations.spec(options, strategy, init.resolve("model"));
        FederationView federation = driver.admin().createFederation(spec);
        String id = federation.id();
        say(prefix + "federation " + id + " created: " + strategy + ", " + options.rounds() + " rounds, "
                + options.clients() + " clients, LoRA r=" + spec.rank() + " alpha=" + (int) spec.alpha() + " on "
                + String.join(", ", spec.targetModules()) + ", " + spec.training().localSteps() + " local steps at lr "
                + spec.training().learningRate());

        Path agentRoot = options.compare() ? work.resolve(strategy) : work;
        List<FederationDriver.AgentSpec> agentSpecs = new ArrayList<>();
        // init-model numbers its client datasets from 1
        for (int i = 1; i <= options.clients(); i++) {
            String name = "client-" + i;
            // the same names in both federations of --compare: local data order is seeded by the client's name
            agentSpecs.add(new FederationDriver.AgentSpec(name,
                    init.resolve("clients").resolve(name), agentRoot.resolve("agent-" + i)));
        }
        List<ChildProcess> agents = driver.startAgents(id, agentSpecs, List.of());
        try {
            driver.awaitEnrolled(id, options.clients(), ENROLMENT, agents);
            say(prefix + options.clients() + " agents enrolled; starting");
            driver.admin().start(id);

            ProgressPrinter progress = new ProgressPrinter(out, prefix, strategy, options.rounds());
            Duration budget = Duration.ofSeconds((long) options.rounds() * (spec.roundDeadlineSeconds() + 60) + 120);
            FederationView end = driver.awaitFinished(id, budget, progress::update, progress::clients, agents);
            if (!"COMPLETED".equals(end.status())) {
                throw new DemoFailure("federation " + id + " ended " + end.status()
                        + (end.reason().isBlank() ? "" : ": " + end.reason()));
            }
            List<RoundView> rounds = driver.awaitFinalEvaluation(id, FINAL_EVALUATION, progress::update);

            List<Long> versions = driver.admin().modelVersions(id);
            Optional<Path> exportDir = Optional.empty();
            if (!versions.isEmpty()) {
                long last = versions.get(versions.size() - 1);
                Path dir = work.resolve("export").resolve((options.compare() ? strategy + "-" : "model-") + "v" + last);
                exportDir = Optional.of(driver.export(id, last, dir));
                say(prefix + "exported model version " + last + " to " + dir);
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            say(prefix + "federation " + end.status() + " in " + String.format(Locale.ROOT, "%.1f s", seconds));
            return new RunResult(strategy, id, end.status(), RoundView.latestAttempts(rounds).stream().map(RoundResult::from).toList(),
                    exportDir, seconds);
        } finally {
            agents.forEach(ChildProcess::close);
        }
    }

    private void say(String message) {
        double elapsed = (System.nanoTime() - startNanos) / 1e9;
        out.printf(Locale.ROOT, "[%6.1fs] %s%n", elapsed, message);
        out.flush();
    }
}
