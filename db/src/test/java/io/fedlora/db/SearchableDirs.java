package io.fedlora.db;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * JUnit's temp dirs are 0700. When the tests run as root the embedded PostgreSQL runs as an unprivileged uid with
 * no capabilities and could not reach a data dir below one, so tests open them for search (not listing) first.
 */
final class SearchableDirs {

    private SearchableDirs() {
    }

    static void allowSearch(Path dir) throws IOException {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
    }
}
