package io.fedlora.demo.process;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Locates the fedlora checkout whose built modules the demo launches. The {@code ./fedlora} script
 * passes it as the system property {@code fedlora.home}; otherwise the working directory and its
 * parents are searched for the directory holding {@code pom.xml} and the {@code fedlora} script (or
 * the coordinator and client-agent modules, for runs from an IDE or a test).
 */
public final class FedloraHome {

    public static final String PROPERTY = "fedlora.home";

    private FedloraHome() {
    }

    /** The repository root, or an {@link IllegalStateException} saying how to point at it. */
    public static Path locate() {
        String property = System.getProperty(PROPERTY);
        if (property != null && !property.isBlank()) {
            Path home = Path.of(property).toAbsolutePath().normalize();
            if (!isHome(home)) {
                throw new IllegalStateException("-D" + PROPERTY + "=" + property
                        + " is not a fedlora checkout (no pom.xml with coordinator/ and client-agent/ modules)");
            }
            return home;
        }
        Path start = Path.of(System.getProperty("user.dir")).toAbsolutePath().normalize();
        return search(start).orElseThrow(() -> new IllegalStateException(
                "cannot find the fedlora checkout from " + start + ": run from inside it or pass -D" + PROPERTY + "=DIR"));
    }

    /** Walks up from {@code start} to the first directory that looks like the repository root. */
    public static Optional<Path> search(Path start) {
        for (Path dir = start.toAbsolutePath().normalize(); dir != null; dir = dir.getParent()) {
            if (isHome(dir)) {
                return Optional.of(dir);
            }
        }
        return Optional.empty();
    }

    static boolean isHome(Path dir) {
        if (!Files.isRegularFile(dir.resolve("pom.xml"))) {
            return false;
        }
        return Files.isRegularFile(dir.resolve("fedlora"))
                || (Files.isRegularFile(dir.resolve("coordinator/pom.xml"))
                        && Files.isRegularFile(dir.resolve("client-agent/pom.xml")));
    }
}
