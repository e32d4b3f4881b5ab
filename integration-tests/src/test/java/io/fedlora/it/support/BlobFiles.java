package io.fedlora.it.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * Finds a blob of the coordinator's content-addressed store by its sha256, whatever the directory
 * fan-out under the data directory, and checks that the file's bytes hash to its name.
 */
public final class BlobFiles {

    private BlobFiles() {
    }

    public static Path find(Path dataDir, String sha256) throws IOException {
        try (Stream<Path> files = Files.walk(dataDir)) {
            Path file = files.filter(Files::isRegularFile)
                    .filter(p -> p.getFileName().toString().startsWith(sha256))
                    .findFirst()
                    .orElseThrow(() -> new IOException("no blob " + sha256 + " under " + dataDir));
            String actual = Hashes.sha256(Files.readAllBytes(file));
            if (!actual.equals(sha256)) {
                throw new IOException("blob " + file + " hashes to " + actual + ", not to its name");
            }
            return file;
        }
    }
}
