package io.fedlora.demo.run;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The interrupted demo's last resort stops only a PostgreSQL on the demo's own data dir: never a live process that
 * a stale {@code postmaster.pid} names but that is something else (pids are reused).
 */
class LeftoverPostgresTest {

    @TempDir Path dir;

    @Test
    void noPidFileMeansNothingToStop() {
        assertThat(LeftoverPostgres.postmaster(dir)).isEmpty();
        LeftoverPostgres.stop(dir);
    }

    @Test
    void aLiveProcessThatIsNotPostgresOnThisDataDirIsLeftAlone() throws Exception {
        Process sleeper = new ProcessBuilder("sleep", "60").start();
        try {
            Files.write(dir.resolve("postmaster.pid"), List.of(Long.toString(sleeper.pid()), dir.toString(), "0", "5432"));
            assertThat(LeftoverPostgres.postmaster(dir)).isEmpty();
            LeftoverPostgres.stop(dir);
            assertThat(sleeper.waitFor(300, TimeUnit.MILLISECONDS)).as("sleep still running").isFalse();

            Files.write(dir.resolve("postmaster.pid"), List.of(Long.toString(ProcessHandle.current().pid())));
            assertThat(LeftoverPostgres.postmaster(dir)).as("this JVM is no postgres").isEmpty();
            Files.writeString(dir.resolve("postmaster.pid"), "garbage\n");
            assertThat(LeftoverPostgres.postmaster(dir)).isEmpty();
        } finally {
            sleeper.destroyForcibly();
        }
    }

    @Test
    void aPostgresOnThisDataDirIsFoundAndStopped() throws Exception {
        // a stand-in whose command line reads '.../postgres -c ... -D <dir>', as pg_ctl's postmaster's does
        String fake = dir.resolve("bin/postgres").toString();
        Path data = Files.createDirectories(dir.resolve("data"));
        Process server = new ProcessBuilder("/bin/bash", "-c",
                "exec -a " + fake + " /bin/bash -c 'while :; do sleep 0.2; done' bash -D " + data).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (System.nanoTime() < deadline
                    && !Files.readString(Path.of("/proc", Long.toString(server.pid()), "cmdline")).startsWith(fake)) {
                Thread.sleep(20);
            }
            Files.write(data.resolve("postmaster.pid"), List.of(Long.toString(server.pid()), data.toString()));
            assertThat(LeftoverPostgres.postmaster(data)).isPresent();
            assertThat(LeftoverPostgres.postmaster(dir)).as("another data dir").isEmpty();
            LeftoverPostgres.stop(data);
            assertThat(server.waitFor(5, TimeUnit.SECONDS)).isTrue();
        } finally {
            server.destroyForcibly();
        }
    }
}
