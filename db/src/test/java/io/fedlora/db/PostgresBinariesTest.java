package io.fedlora.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PostgresBinariesTest {

    /** Shared by both tests so the second finds an extracted installation instead of unpacking again. */
    @TempDir
    static Path cache;

    @Test
    void concurrentExtractionsAgreeOnOneWorldReadableInstallation() throws Exception {
        List<CompletableFuture<PostgresBinaries>> racing = List.of(
                CompletableFuture.supplyAsync(() -> PostgresBinaries.extracted(cache)),
                CompletableFuture.supplyAsync(() -> PostgresBinaries.extracted(cache)));
        Path home = racing.get(0).get().home();
        assertThat(racing.get(1).get().home()).isEqualTo(home);
        assertThat(home.getFileName().toString()).matches("fedlora-pg-[0-9a-f]{16}-[0-9]+");

        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(home.resolve("bin/postgres"))))
                .isEqualTo("rwxr-xr-x");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(home))).isEqualTo("rwxr-xr-x");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(home.resolve("share/postgresql"))))
                .isEqualTo("rwxr-xr-x");
        assertThat(Files.isSymbolicLink(home.resolve("lib/libpq.so"))).isTrue();
        assertThat(Files.exists(home.resolve("lib/libpq.so"))).isTrue();
        try (Stream<Path> leftovers = Files.list(cache)) {
            assertThat(leftovers).containsExactly(home); // staging directories are gone
        }
    }

    @Test
    void anInstallationWithMissingFilesIsExtractedAgain() throws Exception {
        Path home = PostgresBinaries.extracted(cache).home();
        Files.delete(home.resolve("share/postgresql/postgres.bki"));
        assertThat(PostgresBinaries.extracted(cache).home()).isEqualTo(home);
        assertThat(home.resolve("share/postgresql/postgres.bki")).isRegularFile();
    }

    @Test
    void anInstallationThatOthersCouldHaveChangedIsRefused() throws Exception {
        Path home = PostgresBinaries.extracted(cache).home();
        Path initdb = home.resolve("bin/initdb");
        Files.setPosixFilePermissions(initdb, PosixFilePermissions.fromString("rwxrwxrwx"));
        try {
            assertThatThrownBy(() -> PostgresBinaries.extracted(cache))
                    .isInstanceOf(EmbeddedPostgresException.class)
                    .hasMessageContaining("Refusing to run PostgreSQL from " + home)
                    .hasMessageContaining(initdb + " is owned by uid")
                    .hasMessageContaining("mode 0777");
        } finally {
            Files.setPosixFilePermissions(initdb, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        assertThat(PostgresBinaries.extracted(cache).home()).isEqualTo(home);
    }
}
