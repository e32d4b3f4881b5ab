package io.fedlora.agent.daemon.files;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Crash-safe file writes: a reader (or a restarted agent) sees either the old content or the new one,
 * never a half-written file. Everything goes to a temporary sibling first, is fsynced, then renamed
 * atomically, and the parent directory is fsynced so the rename itself is durable.
 */
public final class AtomicFiles {

    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    private AtomicFiles() {}

    /** Writes {@code content} to {@code target} atomically with default permissions. */
    public static void write(Path target, byte[] content) throws IOException {
        write(target, content, false);
    }

    /** Writes {@code content} to {@code target} atomically; the file is readable by its owner only (0600). */
    public static void writeOwnerOnly(Path target, byte[] content) throws IOException {
        write(target, content, true);
    }

    private static void write(Path target, byte[] content, boolean ownerOnly) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = dir.resolve("." + target.getFileName() + ".tmp-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
        try {
            FileAttribute<?>[] attrs = ownerOnly && posix(dir)
                    ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(OWNER_ONLY)}
                    : new FileAttribute<?>[0];
            Files.createFile(tmp, attrs);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ByteBuffer buf = ByteBuffer.wrap(content);
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
                ch.force(true);
            }
            moveAtomically(tmp, target);
            fsyncDirectory(dir);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Renames a fully written directory {@code tmpDir} to {@code target} (which must not exist) after
     * fsyncing every file in it, then fsyncs the parent.
     */
    public static void publishDirectory(Path tmpDir, Path target) throws IOException {
        try (Stream<Path> files = Files.walk(tmpDir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                if (Files.isRegularFile(p)) {
                    fsyncFile(p);
                }
            }
        }
        fsyncDirectory(tmpDir);
        if (Files.exists(target)) {
            throw new FileAlreadyExistsException(target.toString());
        }
        moveAtomically(tmpDir, target);
        fsyncDirectory(target.toAbsolutePath().getParent());
    }

    /** Deletes a file tree if it exists (used for temporary directories and evicted cache entries). */
    public static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }

    public static void fsyncFile(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    /** Fsyncs a directory so renames inside it survive a crash; a no-op where the OS does not allow it. */
    public static void fsyncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // Some platforms (Windows) cannot open a directory for sync; the rename is still atomic there.
        }
    }

    private static void moveAtomically(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("file system of " + to + " cannot rename atomically", e);
        }
    }

    private static boolean posix(Path dir) {
        return dir.getFileSystem().supportedFileAttributeViews().contains("posix");
    }
}
