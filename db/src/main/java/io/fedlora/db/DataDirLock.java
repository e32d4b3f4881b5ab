package io.fedlora.db;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * An exclusive OS file lock on a file inside a PostgreSQL data directory, so that only one fedlora coordinator
 * drives a data directory at a time. Without it a second coordinator started on the same directory would take the
 * first one's live server for a stale one and stop it. The OS releases the lock when the holding process dies, so
 * a server orphaned by a killed JVM can still be taken over.
 */
final class DataDirLock implements AutoCloseable {

    static final String FILE_NAME = "fedlora-coordinator.lock";

    private final FileChannel channel;
    private final FileLock lock;

    private DataDirLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Takes the lock on {@code dataDir}'s lock file (created if missing).
     *
     * @throws EmbeddedPostgresException when another process, or another launcher in this JVM, holds it
     */
    static DataDirLock acquire(Path dataDir) {
        Path file = dataDir.resolve(FILE_NAME);
        FileChannel channel;
        try {
            channel = FileChannel.open(file, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE),
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        } catch (IOException e) {
            throw new EmbeddedPostgresException("Cannot open lock file " + file + " in data dir " + dataDir + ": "
                    + e.getMessage(), e);
        }
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException heldInThisJvm) {
            lock = null;
        } catch (IOException e) {
            closeQuietly(channel);
            throw new EmbeddedPostgresException("Cannot lock " + file + ": " + e.getMessage(), e);
        }
        if (lock == null) {
            closeQuietly(channel);
            throw new EmbeddedPostgresException("data dir " + dataDir + " is in use by another fedlora coordinator"
                    + " (lock file " + file + "); stop it or use another --data-dir");
        }
        try {
            channel.truncate(0);
            channel.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
        } catch (IOException e) {
            // the pid is only a hint for people; the lock itself is what counts
        }
        return new DataDirLock(channel, lock);
    }

    /** Releases the lock. Idempotent. */
    @Override
    public void close() {
        try {
            if (lock.isValid()) {
                lock.release();
            }
        } catch (IOException e) {
            // closing the channel below releases it as well
        }
        closeQuietly(channel);
    }

    private static void closeQuietly(FileChannel channel) {
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing left to release
        }
    }
}
