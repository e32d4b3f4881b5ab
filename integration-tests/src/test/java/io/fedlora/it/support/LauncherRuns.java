package io.fedlora.it.support;

import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What the tests that run the real {@code ./fedlora} launcher share: the check that the modules it would otherwise
 * build first ({@code ./mvnw install}) are packaged, and reading a process's full command line to find what it left.
 */
public final class LauncherRuns {

    private static final String VERSION = "0.1.0-SNAPSHOT";

    private LauncherRuns() {}

    /** Fails unless each module dir has its jar and {@code target/classpath.txt}, as the integration-test phase does. */
    public static void requirePackaged(Path home, String... moduleDirs) {
        for (String dir : moduleDirs) {
            Path target = home.resolve(dir).resolve("target");
            if (!Files.isRegularFile(target.resolve("fedlora-" + dir + "-" + VERSION + ".jar"))
                    || !Files.isRegularFile(target.resolve("classpath.txt"))) {
                fail(dir + " is not packaged (" + target + "): run this test in the integration-test phase");
            }
        }
    }

    /** The process's arguments joined by spaces (empty once it is gone); ProcessHandle.Info drops long ones. */
    public static String commandLine(long pid) {
        try {
            return Files.readString(Path.of("/proc", Long.toString(pid), "cmdline")).replace('\0', ' ');
        } catch (IOException e) {
            return "";
        }
    }
}
