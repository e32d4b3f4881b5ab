package io.fedlora.db;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs one PostgreSQL command-line tool ({@code initdb}, {@code pg_ctl}) to completion as the PostgreSQL user,
 * capturing its combined output so failures can be reported with what the tool said.
 */
final class PostgresTool {

    private static final Logger log = LoggerFactory.getLogger(PostgresTool.class);
    private static final int TAIL_CHARS = 4000;

    private final Path binDir;
    private final ProcessIdentity identity;

    PostgresTool(Path binDir, ProcessIdentity identity) {
        this.binDir = binDir;
        this.identity = identity;
    }

    /** Outcome of one tool run: exit code and (the tail of) its output. */
    record Result(int exitCode, String output) {
        boolean ok() {
            return exitCode == 0;
        }

        /** The last few thousand characters of the output, for exception messages. */
        String tail() {
            String trimmed = output.strip();
            return trimmed.length() <= TAIL_CHARS ? trimmed : "..." + trimmed.substring(trimmed.length() - TAIL_CHARS);
        }
    }

    /** Runs {@code tool args...}; fails only if it cannot be launched or does not finish within the timeout. */
    Result run(String tool, List<String> args, long timeoutSeconds) {
        return run(tool, args, null, timeoutSeconds);
    }

    /**
     * As {@link #run(String, List, long)}, writing {@code stdin} (when not null) to the tool's standard input and
     * closing it; used for single-user mode, whose input may hold a password, so it never appears on a command line.
     */
    Result run(String tool, List<String> args, String stdin, long timeoutSeconds) {
        List<String> command = new ArrayList<>();
        command.add(binDir.resolve(tool).toString());
        command.addAll(args);
        List<String> full = identity.wrap(command);
        log.debug("Running {}", full);
        ProcessBuilder builder = new ProcessBuilder(full).redirectErrorStream(true);
        if (stdin == null) {
            builder.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        }
        builder.environment().put("LC_ALL", "C");
        builder.environment().remove("PGDATA");
        builder.environment().remove("PGPORT");
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            String hint = identity.dropsPrivileges() ? " (running as root needs util-linux 'setpriv' on the PATH)" : "";
            throw new EmbeddedPostgresException("Cannot launch " + full.get(0) + hint + ": " + e.getMessage(), e);
        }
        OutputCollector collector = new OutputCollector(process.getInputStream());
        Thread reader = new Thread(collector, "pg-" + tool + "-output");
        reader.setDaemon(true);
        reader.start();
        if (stdin != null) {
            try (var in = process.getOutputStream()) {
                in.write(stdin.getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                // the tool exited early; its exit code and output say why
            }
        }
        try {
            if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                reader.join(2000);
                throw new EmbeddedPostgresException(tool + " did not finish within " + timeoutSeconds + " s; output:\n"
                        + new Result(-1, collector.text()).tail());
            }
            reader.join(5000);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new EmbeddedPostgresException("Interrupted while running " + tool, e);
        }
        return new Result(process.exitValue(), collector.text());
    }

    /** Drains a process's output so it never blocks on a full pipe. */
    private static final class OutputCollector implements Runnable {
        private final InputStream in;
        private final ByteArrayOutputStream buffer = new ByteArrayOutputStream();

        OutputCollector(InputStream in) {
            this.in = in;
        }

        @Override
        public void run() {
            byte[] chunk = new byte[8192];
            try (in) {
                int n;
                while ((n = in.read(chunk)) >= 0) {
                    synchronized (buffer) {
                        buffer.write(chunk, 0, n);
                    }
                }
            } catch (IOException e) {
                // the process went away; what was read so far is kept
            }
        }

        String text() {
            synchronized (buffer) {
                return buffer.toString(StandardCharsets.UTF_8);
            }
        }
    }
}
