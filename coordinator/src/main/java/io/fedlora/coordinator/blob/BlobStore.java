package io.fedlora.coordinator.blob;

import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
import io.fedlora.aggregation.safetensors.TensorData;
import io.fedlora.coordinator.config.FedloraProperties;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.stereotype.Component;

/**
 * Content-addressed files under {@code <data-dir>/blobs/ab/cdef...}. A blob is written to a temp
 * file, fsynced, atomically renamed to its sha256 name and its directory fsynced, so once a method
 * here returns the bytes survive a crash; callers commit the referencing row only afterwards.
 *
 * <p>Two writers of the same bytes share one file, so a writer that lost (its row was never committed) must
 * not simply delete "its" file: the other may be about to commit a row referencing it. A {@link Pending} blob
 * is held from the moment its name is checked until its writer settles, and a discard removes the file only
 * when no other writer holds it and no committed row references it, both judged under the name's lock.
 */
@Component
public class BlobStore {

    private static final int STRIPES = 64;

    private final Path root;
    private final Path tmp;
    /** Writers holding each name (not yet committed nor discarded); changed only under {@link #lockOf}. */
    private final Map<String, Integer> holds = new java.util.concurrent.ConcurrentHashMap<>();
    private final Object[] locks = new Object[STRIPES];

    @Autowired
    public BlobStore(FedloraProperties properties) {
        this(properties.blobDir());
    }

    public BlobStore(Path root) {
        this.root = root.toAbsolutePath();
        this.tmp = this.root.resolve("tmp");
        for (int i = 0; i < STRIPES; i++) {
            locks[i] = new Object();
        }
        try {
            Files.createDirectories(tmp);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create blob directory " + tmp, e);
        }
    }

    /** The store's top directory: {@code ab/cdef...} blob files and {@code tmp/}. */
    Path root() {
        return root;
    }

    /** Where blobs are written before they get their name. */
    Path tmpDir() {
        return tmp;
    }

    /** Where the blob with this sha256 lives (whether or not it exists). */
    public Path path(String sha256) {
        if (!sha256.matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException("not a sha256: " + sha256);
        }
        return root.resolve(sha256.substring(0, 2)).resolve(sha256.substring(2));
    }

    public boolean exists(String sha256) {
        return Files.isRegularFile(path(sha256));
    }

    /** Stores fp32/fp16 arrays as one safetensors blob. */
    public StoredBlob putSafetensors(Map<String, INDArray> tensors, Map<String, String> metadata, DType dtype) {
        List<TensorData> list = new ArrayList<>();
        tensors.forEach((name, array) -> list.add(TensorData.of(name, array, dtype)));
        return putSafetensors(list, metadata);
    }

    /** Stores tensors (arrays or raw bytes, each in its own dtype) as one safetensors blob. */
    public StoredBlob putSafetensors(List<TensorData> tensors, Map<String, String> metadata) {
        return writeSafetensors(tensors, metadata, false);
    }

    /**
     * Stores tensors as one safetensors blob whose referencing row may yet fail to commit: the caller closes the
     * returned hold after its transaction committed, or {@link Pending#discardUnless discards} it if it did not.
     */
    public Pending putSafetensorsPending(List<TensorData> tensors, Map<String, String> metadata) {
        return new Pending(writeSafetensors(tensors, metadata, true));
    }

    private StoredBlob writeSafetensors(List<TensorData> tensors, Map<String, String> metadata, boolean hold) {
        Path file = tmp.resolve(UUID.randomUUID() + ".safetensors");
        try {
            SafetensorsWriter.write(file, tensors, metadata);
            return commit(file, hold);
        } catch (IOException e) {
            deleteQuietly(file);
            throw new UncheckedIOException("cannot write safetensors blob: " + e.getMessage(), e);
        }
    }

    /**
     * A blob just written whose referencing row is not committed yet. While held, no other writer's discard of
     * the same bytes removes the file. Close it once the row committed (or another committed row references
     * the blob); {@link #discardUnless} it when the row will not be.
     */
    public final class Pending implements AutoCloseable {
        private final StoredBlob blob;
        private boolean settled;

        private Pending(StoredBlob blob) {
            this.blob = blob;
        }

        public StoredBlob blob() {
            return blob;
        }

        /**
         * Releases the hold and deletes the file unless another writer still holds it or {@code referenced} says a
         * committed row references it; true if the file was deleted.
         */
        public boolean discardUnless(java.util.function.Predicate<String> referenced) {
            String sha = blob.sha256();
            synchronized (lockOf(sha)) {
                release();
                if (holds.containsKey(sha) || referenced.test(sha)) {
                    return false;
                }
                try {
                    return Files.deleteIfExists(path(sha));
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot delete blob " + sha + ": " + e.getMessage(), e);
                }
            }
        }

        /** Releases the hold, keeping the file. */
        @Override
        public void close() {
            synchronized (lockOf(blob.sha256())) {
                release();
            }
        }

        private void release() {
            if (!settled) {
                settled = true;
                holds.computeIfPresent(blob.sha256(), (k, n) -> n == 1 ? null : n - 1);
            }
        }
    }

    /** Whether a writer holds this name now (a {@link Pending} blob not yet closed or discarded). */
    boolean held(String sha256) {
        return holds.containsKey(sha256);
    }

    private Object lockOf(String sha256) {
        return locks[Math.floorMod(sha256.hashCode(), STRIPES)];
    }

    /** Copies a file into the store. */
    public StoredBlob putFile(Path source) {
        Path file = tmp.resolve(UUID.randomUUID() + ".part");
        try {
            // never through a link: a file swapped for one after validation must not pull another file in
            try (java.io.InputStream in = Files.newInputStream(source, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                Files.copy(in, file);
            }
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            return commit(file, false);
        } catch (IOException e) {
            deleteQuietly(file);
            throw new UncheckedIOException("cannot store " + source + ": " + e.getMessage(), e);
        }
    }

    /**
     * Gives a durable temp file its name; under the name's lock, so a discard of the same bytes either happened
     * before (the file is written anew) or sees this writer's hold.
     */
    private StoredBlob commit(Path durableTemp, boolean hold) throws IOException {
        String sha = sha256(durableTemp);
        long size = Files.size(durableTemp);
        Path target = path(sha);
        synchronized (lockOf(sha)) {
            if (hold) {
                holds.merge(sha, 1, Integer::sum);
            }
            try {
                if (Files.isRegularFile(target) && Files.size(target) == size) {
                    Files.delete(durableTemp);
                    return new StoredBlob(sha, size);
                }
                Files.createDirectories(target.getParent());
                SafetensorsWriter.fsyncDirectory(root);
                try {
                    Files.move(durableTemp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(durableTemp, target, StandardCopyOption.REPLACE_EXISTING);
                }
                SafetensorsWriter.fsyncDirectory(target.getParent());
                return new StoredBlob(sha, size);
            } catch (IOException | RuntimeException e) {
                if (hold) {
                    holds.computeIfPresent(sha, (k, n) -> n == 1 ? null : n - 1);
                }
                throw e;
            }
        }
    }

    /** Lower-case hex sha256 of a file's bytes. */
    public static String sha256(Path file) throws IOException {
        MessageDigest md = sha256Digest();
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), md)) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
        }
        return HexFormat.of().formatHex(md.digest());
    }

    public static MessageDigest sha256Digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks SHA-256", e);
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // a stray temp file is harmless: it never has a blob name
        }
    }
}
