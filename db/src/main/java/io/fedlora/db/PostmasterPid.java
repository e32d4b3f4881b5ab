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
}
