package io.fedlora.demo.run;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.stream.Stream;

/**
 * The demo's working directory. A directory is only reused if it is empty or was made by an earlier
 * demo (it then holds a marker file), so the demo never wipes a user's unrelated files.
 */
public final class WorkDir {

    static final String MARKER = ".fedlora-demo";

    private WorkDir() {
    }

    /**
     * A new, empty directory (mode 0711) under the system temporary directory ({@code java.io.tmpdir}), named for
     * the current time: demo runs no longer pile up in the checkout.
     */
    public static Path freshTemporary() throws IOException {
        return allowSearch(Files.createTempDirectory(Path.of(System.getProperty("java.io.tmpdir")),
                "fedlora-demo-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + "-"));
    }

    /**
     * Lets other users enter (not list) {@code dir}: run as root, the coordinator's embedded PostgreSQL runs as an
     * unprivileged uid with no capabilities and must be able to reach its data dir below {@code dir}.
     */
    public static Path allowSearch(Path dir) throws IOException {
        if (dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            var perms = Files.getPosixFilePermissions(dir);
            perms.add(java.nio.file.attribute.PosixFilePermission.OTHERS_EXECUTE);
            perms.add(java.nio.file.attribute.PosixFilePermission.GROUP_EXECUTE);
            Files.setPosixFilePermissions(dir, perms);
        }
        return dir;
    }

    /** Creates or clears {@code dir} for a new demo run. */
    public static Path prepare(Path dir) throws IOException {
        Path root = dir.toAbsolutePath().normalize();
        if (Files.isDirectory(root)) {
            boolean empty;
            try (Stream<Path> entries = Files.list(root)) {
                empty = entries.findAny().isEmpty();
            }
            if (!empty) {
                if (!Files.exists(root.resolve(MARKER))) {
                    throw new DemoFailure("work directory " + root + " is not empty and was not made by the demo; "
                            + "choose an empty or new directory");
                }
                deleteContents(root);
            }
        } else if (Files.exists(root)) {
            throw new DemoFailure("work directory " + root + " exists and is not a directory");
        }
        Files.createDirectories(root);
        Files.writeString(root.resolve(MARKER), "made by ./fedlora demo\n");
        return root;
    }

    /** Writes {@code text} to {@code file} readable by this user only (0600 where POSIX permissions exist). */
    public static Path writePrivate(Path file, String text) throws IOException {
        Files.deleteIfExists(file);
        if (file.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } else {
            Files.createFile(file);
        }
        Files.writeString(file, text);
        return file;
    }

    /** Deletes everything under {@code dir} but the directory itself. */
    public static void deleteContents(Path dir) throws IOException {
        try (Stream<Path> entries = Files.list(dir)) {
            for (Path entry : (Iterable<Path>) entries::iterator) {
                deleteTree(entry);
            }
        }
    }

    /** Deletes a file or directory tree; a missing path is fine. */
    public static void deleteTree(Path path) throws IOException {
        if (!Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(path, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
                if (exc != null) {
                    throw exc;
                }
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
