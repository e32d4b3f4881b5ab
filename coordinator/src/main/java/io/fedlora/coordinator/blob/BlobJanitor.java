package io.fedlora.coordinator.blob;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.stereotype.Component;

/**
 * Removes what a crash left in the blob store: temp files of writes that never finished, and named blobs whose
 * referencing transaction never committed (a crash between the rename and the commit). Such files are never
 * referenced, so without this they would only accumulate.
 *
 * <p>Runs once at startup, after every bean exists but before the gRPC server and the round scheduler start
 * (both are lifecycle beans), so nothing of this process is being written; files newer than the sweep's cutoff
 * are kept regardless. One coordinator per data directory is assumed, as everywhere else.
 */
@Component
public class BlobJanitor implements SmartInitializingSingleton {

    private static final Logger log = LoggerFactory.getLogger(BlobJanitor.class);

    private final BlobStore store;
    private final BlobRepository rows;

    public BlobJanitor(BlobStore store, BlobRepository rows) {
        this.store = store;
        this.rows = rows;
    }

    /** What a sweep removed. */
    public record Sweep(int tempFiles, int orphanBlobs, long bytes) {
    }

    @Override
    public void afterSingletonsInstantiated() {
        Sweep s = sweep(Instant.now());
        if (s.tempFiles() + s.orphanBlobs() > 0) {
            log.info("Blob store: removed {} unfinished temp file(s) and {} unreferenced blob(s), {} bytes, left by an"
                    + " earlier run", s.tempFiles(), s.orphanBlobs(), s.bytes());
        }
    }

    /** Deletes temp files and unregistered blobs last modified before {@code cutoff}. */
    public Sweep sweep(Instant cutoff) {
        int temps = 0;
        int orphans = 0;
        long bytes = 0;
        for (Path p : files(store.tmpDir(), 1)) {
            long size = deleteIfOlder(p, cutoff);
            if (size >= 0) {
                temps++;
                bytes += size;
            }
        }
        Set<String> registered = rows.registered();
        for (Path p : files(store.root(), 2)) {
            Path parent = p.getParent();
            if (parent.equals(store.tmpDir()) || parent.equals(store.root())) {
                continue;
            }
            String sha = parent.getFileName().toString() + p.getFileName();
            if (!sha.matches("[0-9a-f]{64}") || registered.contains(sha)) {
                continue;
            }
            long size = deleteIfOlder(p, cutoff);
            if (size >= 0) {
                orphans++;
                bytes += size;
            }
        }
        return new Sweep(temps, orphans, bytes);
    }

    private static List<Path> files(Path dir, int depth) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(dir, depth)) {
            return s.filter(Files::isRegularFile).toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list blob directory " + dir, e);
        }
    }

    /** The file's size if it was deleted, else -1. */
    private static long deleteIfOlder(Path p, Instant cutoff) {
        try {
            if (!Files.getLastModifiedTime(p).toInstant().isBefore(cutoff)) {
                return -1;
            }
            long size = Files.size(p);
            Files.delete(p);
            return size;
        } catch (IOException e) {
            log.warn("Blob store: cannot remove leftover file {}: {}", p, e.getMessage());
            return -1;
        }
    }
}
