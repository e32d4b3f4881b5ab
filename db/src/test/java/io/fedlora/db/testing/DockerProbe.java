package io.fedlora.db.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Answers "can Testcontainers start a container here?" without the long waits Testcontainers itself can spend
 * when there is no Docker engine: if no engine is configured at all (no {@code DOCKER_HOST}, no known socket,
 * no {@code docker.host} in {@code ~/.testcontainers.properties}) the answer is an immediate no; otherwise
 * {@code DockerClientFactory.isDockerAvailable()} is asked, bounded by a timeout.
 */
final class DockerProbe {

    private static final Logger log = LoggerFactory.getLogger(DockerProbe.class);
    private static final String FACTORY_CLASS = "org.testcontainers.DockerClientFactory";

    private final Map<String, String> env;
    private final Path home;
    private final Duration timeout;

    DockerProbe(Map<String, String> env, Path home, Duration timeout) {
        this.env = env;
        this.home = home;
        this.timeout = timeout;
    }

    static DockerProbe forThisProcess() {
        return new DockerProbe(System.getenv(), Path.of(System.getProperty("user.home")), Duration.ofSeconds(20));
    }

    /** True when some Docker engine is configured or a well-known socket exists; no network access. */
    boolean engineConfigured() {
        if (notBlank(env.get("DOCKER_HOST")) || notBlank(env.get("TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE"))) {
            return true;
        }
        List<Path> sockets = List.of(Path.of("/var/run/docker.sock"), Path.of("/run/docker.sock"),
                home.resolve(".docker/run/docker.sock"), home.resolve(".docker/desktop/docker.sock"),
                home.resolve(".colima/default/docker.sock"), home.resolve(".rd/docker.sock"));
        if (env.containsKey("XDG_RUNTIME_DIR")) {
            sockets = new java.util.ArrayList<>(sockets);
            sockets.add(Path.of(env.get("XDG_RUNTIME_DIR"), "docker.sock"));
            sockets.add(Path.of(env.get("XDG_RUNTIME_DIR"), "podman", "podman.sock"));
        }
        if (sockets.stream().anyMatch(Files::exists)) {
            return true;
        }
        Path properties = home.resolve(".testcontainers.properties");
        try {
            return Files.isReadable(properties)
                    && Files.readAllLines(properties).stream().anyMatch(line -> line.strip().startsWith("docker.host"));
        } catch (java.io.IOException e) {
            return false;
        }
    }

    /** True only when Testcontainers is on the classpath and its Docker client answers within the timeout. */
    boolean dockerAvailable() {
        if (!engineConfigured()) {
            log.debug("No Docker engine configured (no DOCKER_HOST, socket or docker.host property)");
            return false;
        }
        if (!testcontainersPresent()) {
            log.debug("Testcontainers is not on the classpath");
            return false;
        }
        CompletableFuture<Boolean> answer = CompletableFuture.supplyAsync(
                () -> org.testcontainers.DockerClientFactory.instance().isDockerAvailable());
        try {
            return answer.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            log.warn("Docker engine did not answer within {}; not using Testcontainers", timeout);
            answer.cancel(true);
            return false;
        } catch (ExecutionException e) {
            log.warn("Docker engine check failed: {}", e.getCause().toString());
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static boolean testcontainersPresent() {
        try {
            Class.forName(FACTORY_CLASS, false, DockerProbe.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    private static boolean notBlank(String value) {
        return value != null && !value.isBlank();
    }
}
