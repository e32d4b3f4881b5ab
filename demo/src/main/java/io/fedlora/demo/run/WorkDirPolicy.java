package io.fedlora.demo.run;

import java.io.IOException;
import java.nio.file.Path;

import io.fedlora.demo.cli.DemoOptions;

/**
 * What becomes of the demo's work directory once a run ends, in one place so the rule can be tested without running
 * a federation: a temporary directory the demo made is removed after a successful run unless {@code --keep}; a
 * directory the user named with {@code --work-dir} is theirs and is never removed; a failed or interrupted run keeps
 * it for its logs. A removal that fails keeps what is left and says so rather than turning a successful run into a
 * failed one.
 *
 * @param temporary the demo made the directory (no {@code --work-dir})
 * @param keep      {@code --keep}
 */
public record WorkDirPolicy(boolean temporary, boolean keep) {

    /** How the run ended. */
    public enum Ending { SUCCEEDED, FAILED, INTERRUPTED }

    /**
     * What happened to the directory.
     *
     * @param reason why it was kept; empty when removed
     */
    public record Result(Path dir, boolean removed, String reason) {

        /** The line the demo ends with. */
        public String line() {
            return removed
                    ? "work directory " + dir + " removed (--keep keeps it: logs and the exported model)"
                    : "work directory kept at " + dir + " (" + reason + "; logs in " + dir.resolve("logs") + ")";
        }
    }

    public static WorkDirPolicy of(DemoOptions options) {
        return new WorkDirPolicy(options.workDir().isEmpty(), options.keep());
    }

    /** Whether a successful run will remove the directory (the first progress line says so). */
    public boolean removesOnSuccess() {
        return temporary && !keep;
    }

    /**
     * Removes {@code dir} or says why it stays. Call it only once nothing writes under {@code dir} any more: the
     * agents, the coordinator and the coordinator's embedded PostgreSQL must be stopped, or the walk races files the
     * server is still creating and deleting.
     */
    public Result finish(Path dir, Ending ending) {
        return switch (ending) {
            case FAILED -> kept(dir, "the run failed");
            case INTERRUPTED -> kept(dir, "interrupted");
            case SUCCEEDED -> {
                if (!temporary) {
                    yield kept(dir, "--work-dir: the directory is yours");
                }
                if (keep) {
                    yield kept(dir, "--keep");
                }
                try {
                    WorkDir.deleteTree(dir);
                    yield new Result(dir, true, "");
                } catch (IOException | RuntimeException e) {
                    yield kept(dir, "removing it failed, what is left stays: " + e);
                }
            }
        };
    }

    private static Result kept(Path dir, String reason) {
        return new Result(dir, false, reason);
    }
}
