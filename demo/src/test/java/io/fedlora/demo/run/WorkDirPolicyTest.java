package io.fedlora.demo.run;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import io.fedlora.demo.cli.DemoArgs;
import io.fedlora.demo.run.WorkDirPolicy.Ending;

/** What becomes of the demo's work directory after a run, on a tree shaped like the one a demo leaves. */
class WorkDirPolicyTest {

    @TempDir
    Path tmp;

    private Path work;
    private Path outside;

    @BeforeEach
    void aDemoWorkDirWithAnEmbeddedPostgresDataDir() throws Exception {
        work = WorkDir.prepare(tmp.resolve("fedlora-demo-x"));
        Files.createDirectories(work.resolve("logs"));
        Files.writeString(work.resolve("logs/coordinator.log"), "log");
        Files.createDirectories(work.resolve("export/model-v5"));
        Files.writeString(work.resolve("export/model-v5/adapter_model.safetensors"), "x");
        // as initdb leaves it: 0700 directories, 0600 files, a read-only one, a pid file
        Path pg = work.resolve("coordinator/postgres");
        for (String d : new String[] {"base/1", "global", "pg_wal/archive_status"}) {
            Files.createDirectories(pg.resolve(d));
        }
        Files.writeString(pg.resolve("PG_VERSION"), "16\n");
        Files.writeString(pg.resolve("postmaster.pid"), "999999\n");
        Files.writeString(pg.resolve("base/1/1259"), "heap");
        Files.writeString(pg.resolve("global/pg_control"), "control");
        Files.setPosixFilePermissions(pg.resolve("global/pg_control"), PosixFilePermissions.fromString("r--------"));
        Files.walk(pg).filter(Files::isDirectory)
                .forEach(d -> uncheck(() -> Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwx------"))));
        // a link out of the work dir (as a tablespace or pg_wal link would be): removal must not follow it
        outside = Files.createDirectories(tmp.resolve("users-data"));
        Files.writeString(outside.resolve("thesis.tex"), "precious");
        Files.createSymbolicLink(pg.resolve("pg_tblspc"), outside);
    }

    @Test
    void aSuccessfulRunRemovesTheTemporaryDirectoryButNothingALinkPointsTo() {
        WorkDirPolicy policy = WorkDirPolicy.of(DemoArgs.parse());
        assertThat(policy.removesOnSuccess()).isTrue();
        WorkDirPolicy.Result result = policy.finish(work, Ending.SUCCEEDED);
        assertThat(result.removed()).as(result.line()).isTrue();
        assertThat(work).doesNotExist();
        assertThat(outside.resolve("thesis.tex")).hasContent("precious");
        assertThat(result.line()).isEqualTo("work directory " + work + " removed (--keep keeps it: logs and the exported model)");
    }

    @Test
    void keepKeepsItAfterSuccess() {
        WorkDirPolicy policy = WorkDirPolicy.of(DemoArgs.parse("--keep"));
        assertThat(policy.removesOnSuccess()).isFalse();
        assertKept(policy.finish(work, Ending.SUCCEEDED), "--keep");
    }

    @Test
    void anExplicitWorkDirIsNeverRemoved() {
        for (String[] args : new String[][] {{"--work-dir", work.toString()}, {"--work-dir", work.toString(), "--keep"}}) {
            WorkDirPolicy policy = WorkDirPolicy.of(DemoArgs.parse(args));
            assertThat(policy.removesOnSuccess()).isFalse();
            assertKept(policy.finish(work, Ending.SUCCEEDED), "--work-dir: the directory is yours");
            assertKept(policy.finish(work, Ending.FAILED), "the run failed");
            assertKept(policy.finish(work, Ending.INTERRUPTED), "interrupted");
        }
    }

    @Test
    void aFailedOrInterruptedRunKeepsTheTemporaryDirectory() {
        WorkDirPolicy policy = WorkDirPolicy.of(DemoArgs.parse());
        assertKept(policy.finish(work, Ending.FAILED), "the run failed");
        assertKept(policy.finish(work, Ending.INTERRUPTED), "interrupted");
    }

    private void assertKept(WorkDirPolicy.Result result, String reason) {
        assertThat(result.removed()).isFalse();
        assertThat(result.reason()).isEqualTo(reason);
        assertThat(result.line()).isEqualTo("work directory kept at " + work + " (" + reason + "; logs in "
                + work.resolve("logs") + ")");
        assertThat(work.resolve("logs/coordinator.log")).exists();
        assertThat(work.resolve("export/model-v5/adapter_model.safetensors")).exists();
        assertThat(work.resolve("coordinator/postgres/global/pg_control")).exists();
    }

    private interface IoAction {
        void run() throws Exception;
    }

    private static void uncheck(IoAction action) {
        try {
            action.run();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
