package io.fedlora.db;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The first lines of a data directory's {@code postmaster.pid}: which process serves it and on which port.
 * Used to recognise "our" server when stopping, so one launcher never stops a server that another one started.
 *
 * @param pid  postmaster process id
 * @param port TCP port it listens on, or -1 when the file does not say yet
 */
record PostmasterPid(long pid, int port) {

    static final String FILE_NAME = "postmaster.pid";

    /** Reads the file if it exists and is complete enough to name a pid. */
    static Optional<PostmasterPid> read(Path dataDir) {
        try {
            List<String> lines = Files.readAllLines(dataDir.resolve(FILE_NAME));
            if (lines.isEmpty() || lines.get(0).isBlank()) {
                return Optional.empty();
            }
            long pid = Long.parseLong(lines.get(0).trim());
            int port = lines.size() > 3 && !lines.get(3).isBlank() ? Integer.parseInt(lines.get(3).trim()) : -1;
            return Optional.of(new PostmasterPid(pid, port));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    boolean alive() {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    /**
     * Whether the live process {@link #pid} is a PostgreSQL server on {@code dataDir}, judged from its command line
     * ({@code postgres -D <dataDir> ...} as pg_ctl starts it). After a reboot the pid in a stale file may belong to
     * an unrelated process, or to another PostgreSQL on another data directory, which must never be stopped.
     */
    boolean servesDataDir(Path dataDir) {
        List<String> args = commandLine();
        if (args.isEmpty()) {
            // command line unreadable (not Linux): trust the executable's name
            return ProcessHandle.of(pid).flatMap(h -> h.info().command()).map(c -> c.endsWith("postgres")).orElse(true);
        }
        if (!args.get(0).endsWith("postgres")) {
            return false;
        }
        for (int i = 1; i + 1 < args.size(); i++) {
            if (args.get(i).equals("-D")) {
                return Path.of(args.get(i + 1)).toAbsolutePath().normalize().equals(dataDir.toAbsolutePath().normalize());
            }
        }
        return false;
    }

    private List<String> commandLine() {
        try {
            byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline"));
            String joined = new String(raw, java.nio.charset.StandardCharsets.UTF_8);
            return joined.isEmpty() ? List.of() : List.of(joined.split("\0"));
        } catch (IOException | RuntimeException e) {
            return List.of();
        }
    }
}
