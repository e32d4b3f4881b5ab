package io.fedlora.demo.process;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts the processes of a federation on this machine (model generation, coordinator, agents) from
 * the checkout's built modules. Shared by {@code ./fedlora demo} and the end-to-end tests so both
 * exercise the same command lines a user would run.
 */
public final class FederationProcesses {

    private static final Logger log = LoggerFactory.getLogger(FederationProcesses.class);

    public static final String AGENT_MODULE = "client-agent";
    public static final String COORDINATOR_MODULE = "coordinator";
    public static final String INIT_MODEL_MAIN = "io.fedlora.agent.cli.AgentCli";
    public static final String AGENT_MAIN = "io.fedlora.agent.AgentApplication";
    public static final String COORDINATOR_MAIN = "io.fedlora.coordinator.CoordinatorApplication";

    /** JVM options for every child: small heaps and cheap JIT, since several JVMs share a couple of cores. */
    static final List<String> COMMON_JVM_OPTIONS = List.of(
            "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dfile.encoding=UTF-8");

    /**
     * The coordinator's memory settings, the same as {@code ./fedlora coordinator} uses (the launcher sets them unless
     * JAVA_OPTS or the environment picks others): the serial collector with a fixed 64 MiB young generation and a
     * 128 MiB initial heap that grows only when live data needs it (its live heap is a few dozen MB; G1, a young
     * generation sized from the heap or the default 1/64-of-RAM initial heap left hundreds of MB of touched garbage
     * pages resident) and is kept 10-25% free after a full collection (with the default 40-70% the old generation
     * grew to hold what a thousand uploading clients promoted), and glibc malloc with two arenas and a fixed 128 KiB mmap/trim threshold, so the native
     * memory that ND4J and Netty free goes back to the system instead of staying in per-thread arenas. With both, a
     * 1,000-client GPT-2-small round peaked at 852 MiB RSS against 1,714 before them and the per-round frees (README Scale).
     */
    public static final List<String> COORDINATOR_MEMORY_OPTIONS = List.of("-XX:+UseSerialGC", "-Xms128m", "-Xmn64m",
            "-XX:MinHeapFreeRatio=10", "-XX:MaxHeapFreeRatio=25");

    /** The {@code GLIBC_TUNABLES} value the coordinator runs with (see {@link #COORDINATOR_MEMORY_OPTIONS}). */
    public static final String COORDINATOR_MALLOC_TUNABLES =
            "glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072";

    /** What the coordinator's children get as {@code GLIBC_TUNABLES}: this environment's, else the default above. */
    public static String coordinatorMallocTunables() {
        return System.getenv().getOrDefault("GLIBC_TUNABLES", COORDINATOR_MALLOC_TUNABLES);
    }

    private final Path home;
    private final ProcessLauncher launcher;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private String agentClasspath;
    private String coordinatorClasspath;

    public FederationProcesses(Path home, ProcessLauncher launcher) {
        this.home = home;
        this.launcher = launcher;
    }

    public ProcessLauncher launcher() {
        return launcher;
    }

    /**
     * Runs {@code init-model}: writes {@code out/model} and {@code out/clients/client-<i>/{train,eval}.jsonl}.
     */
    public ChildProcess initModel(Path out, int clients, long seed, Duration timeout) throws InterruptedException {
        return initModel(out, clients, seed, "gpt2", timeout);
    }

    /** As above for a model family ({@code gpt2} or {@code llama}). */
    public ChildProcess initModel(Path out, int clients, long seed, String family, Duration timeout)
            throws InterruptedException {
        JavaCommand cmd = new JavaCommand("init-model", agentClasspath(), jvm("-Xmx1g"), INIT_MODEL_MAIN,
                List.of("init-model", "--out", out.toAbsolutePath().toString(), "--family", family,
                        "--clients", Integer.toString(clients), "--seed", Long.toString(seed)),
                Map.of("OMP_NUM_THREADS", "1"));
        return launcher.run(cmd, timeout);
    }

    /** Starts a coordinator and waits until {@code /actuator/health} reports UP. */
    public CoordinatorProcess startCoordinator(CoordinatorSettings settings, Duration readyTimeout)
            throws InterruptedException {
        return startCoordinator(settings, readyTimeout, jvm("-Xmx1g"));
    }

    /** The same with the JVM options given (the benchmark runs the coordinator with its full JIT). */
    public CoordinatorProcess startCoordinator(CoordinatorSettings settings, Duration readyTimeout,
            List<String> jvmOptions) throws InterruptedException {
        ChildProcess child = launcher.start(coordinatorCommand(settings, jvmOptions));
        CoordinatorProcess coordinator = new CoordinatorProcess(child, settings);
        awaitHealthy(coordinator, readyTimeout);
        return coordinator;
    }

    /**
     * The command that starts a coordinator for {@code settings} with the default JVM options, for callers that start
     * it themselves (a test that expects it to refuse to start, or that leaves options out).
     */
    public JavaCommand coordinatorCommand(CoordinatorSettings settings) {
        return coordinatorCommand(settings, jvm("-Xmx1g"));
    }

    private JavaCommand coordinatorCommand(CoordinatorSettings settings, List<String> jvmOptions) {
        Map<String, String> env = new java.util.HashMap<>(settings.environment());
        env.putIfAbsent("GLIBC_TUNABLES", coordinatorMallocTunables());
        return new JavaCommand(settings.name(), coordinatorClasspath(), jvmOptions, COORDINATOR_MAIN,
                settings.springArgs(), env);
    }

    /** Starts a client agent (one JVM, one BLAS thread). */
    public ChildProcess startAgent(AgentSettings settings) {
        JavaCommand cmd = new JavaCommand(settings.name(), agentClasspath(), jvm("-Xmx768m"), AGENT_MAIN,
                settings.args(), Map.of("OMP_NUM_THREADS", "1", "OPENBLAS_NUM_THREADS", "1"))
                .withEnvironment(settings.environment());
        return launcher.start(cmd);
    }

    /** Polls the health endpoint until UP; fails early with the log tail if the process dies. */
    public void awaitHealthy(CoordinatorProcess coordinator, Duration timeout) throws InterruptedException {
        URI health = coordinator.baseUri().resolve("/actuator/health");
        long deadline = System.nanoTime() + timeout.toNanos();
        String last = "no answer yet";
        while (System.nanoTime() < deadline) {
            if (!coordinator.process().isAlive()) {
                throw new ChildProcessException("coordinator exited with code "
                        + coordinator.process().exitCode().orElse(-1) + " before becoming healthy", coordinator.process());
            }
            try {
                HttpResponse<String> response = http.send(HttpRequest.newBuilder(health)
                                .timeout(Duration.ofSeconds(5))
                                .header("X-API-Key", coordinator.apiKey())
                                .GET().build(),
                        HttpResponse.BodyHandlers.ofString());
                if (response.statusCode() == 200 && response.body().contains("\"UP\"")) {
                    log.info("coordinator healthy at {}", coordinator.baseUri());
                    return;
                }
                last = "HTTP " + response.statusCode() + " " + abbreviate(response.body());
            } catch (ConnectException e) {
                last = "connection refused";
            } catch (IOException e) {
                last = e.toString();
            }
            Thread.sleep(500);
        }
        throw new ChildProcessException("coordinator not healthy at " + health + " after " + timeout.toSeconds()
                + " s (last answer: " + last + ")", coordinator.process());
    }

    private static String abbreviate(String s) {
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }

    private static List<String> jvm(String heap) {
        List<String> options = new java.util.ArrayList<>(COMMON_JVM_OPTIONS);
        options.add(heap);
        return options;
    }

    private synchronized String agentClasspath() {
        if (agentClasspath == null) {
            agentClasspath = ModuleClasspath.of(home, AGENT_MODULE);
        }
        return agentClasspath;
    }

    private synchronized String coordinatorClasspath() {
        if (coordinatorClasspath == null) {
            coordinatorClasspath = ModuleClasspath.of(home, COORDINATOR_MODULE);
        }
        return coordinatorClasspath;
    }
}
