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
 */
@Component
public class BlobStore {

    private final Path root;
    private final Path tmp;

    @Autowired
    public BlobStore(FedloraProperties properties) {
        this(properties.blobDir());
    }

    public BlobStore(Path root) {
        this.root = root.toAbsolutePath();
        this.tmp = this.root.resolve("tmp");
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
        Path file = tmp.resolve(UUID.randomUUID() + ".safetensors");
        try {
            SafetensorsWriter.write(file, tensors, metadata);
            return commit(file);
        } catch (IOException e) {
            deleteQuietly(file);
            throw new UncheckedIOException("cannot write safetensors blob: " + e.getMessage(), e);
        }
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
            return commit(file);
        } catch (IOException e) {
            deleteQuietly(file);
            throw new UncheckedIOException("cannot store " + source + ": " + e.getMessage(), e);
        }
    }

    private StoredBlob commit(Path durableTemp) throws IOException {
        String sha = sha256(durableTemp);
        long size = Files.size(durableTemp);
        Path target = path(sha);
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

    /**
     * Deletes a named blob that no row references (an update that lost a race after its file was written);
     * callers check first that it is unregistered.
     */
    public void delete(String sha256) {
        try {
            Files.deleteIfExists(path(sha256));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete blob " + sha256 + ": " + e.getMessage(), e);
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
