package io.fedlora.demo.process;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts Java child processes with their output in log files and remembers them, so that one
 * {@link #close()} (from a shutdown hook or a test's teardown) stops everything it started, newest first. Once
 * closed it starts nothing more, so a process the main thread was about to start while a shutdown hook closes the
 * launcher cannot outlive it.
 */
public final class ProcessLauncher implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ProcessLauncher.class);

    private final Path logDir;
    private final List<ChildProcess> started = new ArrayList<>();
    private boolean closed;

    public ProcessLauncher(Path logDir) {
        this.logDir = logDir;
    }

    public Path logDir() {
        return logDir;
    }

    /** Starts the command; output is appended to {@code <logDir>/<name>.log} (appending keeps a restarted process's history). */
    public synchronized ChildProcess start(JavaCommand command) {
        if (closed) {
            throw new IllegalStateException("not starting " + command.name() + ": the processes are being stopped");
        }
        Path logFile = logDir.resolve(command.name() + ".log");
        try {
            Files.createDirectories(logDir);
            Files.writeString(logFile, "=== " + java.time.Instant.now() + " starting: "
                    + String.join(" ", redactClasspath(command.commandLine())) + System.lineSeparator(),
                    StandardCharsets.UTF_8,
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create log file " + logFile, e);
        }
        ProcessBuilder builder = new ProcessBuilder(command.commandLine())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                .redirectInput(ProcessBuilder.Redirect.from(nullDevice()));
        builder.environment().putAll(command.environment());
        try {
            Process process = builder.start();
            ChildProcess child = new ChildProcess(command.name(), process, logFile);
            started.add(child);
            log.debug("started {}", child);
            return child;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + command.name() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Runs the command to completion. Throws with the log tail if it fails or exceeds {@code timeout}.
     */
    public ChildProcess run(JavaCommand command, Duration timeout) throws InterruptedException {
        ChildProcess child = start(command);
        if (!child.waitFor(timeout)) {
            child.close();
            throw new ChildProcessException(command.name() + " did not finish within " + timeout.toSeconds() + " s", child);
        }
        int code = child.exitCode().orElseThrow();
        if (code != 0) {
            throw new ChildProcessException(command.name() + " exited with code " + code, child);
        }
        return child;
    }

    /** Processes started so far (including ended ones), oldest first. */
    public synchronized List<ChildProcess> started() {
        return List.copyOf(started);
    }

    /** Stops every process this launcher started, newest first. */
    @Override
    public void close() {
        List<ChildProcess> toStop;
        synchronized (this) {
            closed = true;
            toStop = new ArrayList<>(started);
        }
        for (int i = toStop.size() - 1; i >= 0; i--) {
            try {
                toStop.get(i).close();
            } catch (RuntimeException e) {
                log.warn("could not stop {}: {}", toStop.get(i), e.toString());
            }
        }
    }

    private static java.io.File nullDevice() {
        return new java.io.File(System.getProperty("os.name").startsWith("Windows") ? "NUL" : "/dev/null");
    }

    /** The command line as written to the log: classpath shortened, secrets (tokens, API key) hidden. */
    static List<String> redactClasspath(List<String> cmd) {
        List<String> shown = new ArrayList<>(cmd);
        int cp = shown.indexOf("-cp");
        if (cp >= 0 && cp + 1 < shown.size()) {
            shown.set(cp + 1, "<" + shown.get(cp + 1).split(java.io.File.pathSeparator).length + " classpath entries>");
        }
        for (int i = 0; i < shown.size(); i++) {
            String arg = shown.get(i);
            if (arg.equals("--token") && i + 1 < shown.size()) {
                shown.set(++i, "<redacted>");
            } else if (arg.startsWith("--token=") || arg.startsWith("--fedlora.admin.api-key=")) {
                shown.set(i, arg.substring(0, arg.indexOf('=') + 1) + "<redacted>");
            }
        }
        return shown;
    }
}
