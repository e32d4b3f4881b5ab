package io.fedlora.it.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * Finds a blob of the coordinator's content-addressed store by its sha256 (stored as
 * {@code <2 hex>/<62 hex>} somewhere under the data directory, or under its full name), and checks that
 * the file's bytes hash to its name.
 */
public final class BlobFiles {

    private BlobFiles() {
    }

    public static Path find(Path dataDir, String sha256) throws IOException {
        try (Stream<Path> files = Files.walk(dataDir)) {
            Path file = files.filter(Files::isRegularFile)
                    .filter(p -> isNamed(p, sha256))
                    .findFirst()
                    .orElseThrow(() -> new IOException("no blob " + sha256 + " under " + dataDir));
            String actual = Hashes.sha256(Files.readAllBytes(file));
            if (!actual.equals(sha256)) {
                throw new IOException("blob " + file + " hashes to " + actual + ", not to its name");
            }
            return file;
        }
    }

    private static boolean isNamed(Path file, String sha256) {
        String name = file.getFileName().toString();
        Path parent = file.getParent();
        return name.startsWith(sha256)
                || parent != null && (parent.getFileName() + name).equals(sha256);
    }
}
