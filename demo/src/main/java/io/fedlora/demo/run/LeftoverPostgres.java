package io.fedlora.demo.run;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stops the embedded PostgreSQL of a demo's coordinator if it is still running once the coordinator is gone. The
 * coordinator stops it on SIGTERM; it survives only a coordinator killed after its grace period, and since pg_ctl
 * daemonises the postmaster it is no descendant of the coordinator that {@code ChildProcess} could find. The pid comes
 * from the data dir's {@code postmaster.pid} and is stopped only if that process is a {@code postgres -D <dataDir>}.
 */
final class LeftoverPostgres {

    private static final Logger log = LoggerFactory.getLogger(LeftoverPostgres.class);

    private LeftoverPostgres() {
    }

    /** Stops the server on {@code dataDir} (SIGTERM, then SIGKILL after 15 s) if one is running; else does nothing. */
    static void stop(Path dataDir) {
        Optional<ProcessHandle> server = postmaster(dataDir);
        if (server.isEmpty()) {
            return;
        }
        ProcessHandle handle = server.get();
        log.warn("embedded PostgreSQL pid {} on {} outlived its coordinator; stopping it", handle.pid(), dataDir);
        handle.destroy();
        try {
            handle.onExit().get(15, TimeUnit.SECONDS);
        } catch (Exception e) {
            handle.destroyForcibly();
            try {
                // gone before the caller removes its data dir
                handle.onExit().get(5, TimeUnit.SECONDS);
            } catch (Exception stillThere) {
                log.warn("embedded PostgreSQL pid {} did not exit after SIGKILL", handle.pid());
            }
        }
    }

    /** The live postmaster serving {@code dataDir}, if any. */
    static Optional<ProcessHandle> postmaster(Path dataDir) {
        List<String> lines;
        try {
            lines = Files.readAllLines(dataDir.resolve("postmaster.pid"));
        } catch (IOException e) {
            return Optional.empty();
        }
        if (lines.isEmpty()) {
            return Optional.empty();
        }
        long pid;
        try {
            pid = Long.parseLong(lines.get(0).strip());
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
        return ProcessHandle.of(pid).filter(ProcessHandle::isAlive).filter(h -> servesDataDir(h, dataDir));
    }

    private static boolean servesDataDir(ProcessHandle handle, Path dataDir) {
        try {
            String cmdline = Files.readString(Path.of("/proc", Long.toString(handle.pid()), "cmdline"));
            List<String> args = List.of(cmdline.split("\0"));
            int d = args.indexOf("-D");
            return !args.isEmpty() && args.get(0).endsWith("postgres") && d > 0 && d + 1 < args.size()
                    && Path.of(args.get(d + 1)).toAbsolutePath().normalize().equals(dataDir.toAbsolutePath().normalize());
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }
}
