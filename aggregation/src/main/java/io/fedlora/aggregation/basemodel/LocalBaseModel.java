package io.fedlora.aggregation.basemodel;

import io.fedlora.aggregation.family.Checkpoint;
import io.fedlora.aggregation.family.ModelFamilies;
import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
import io.fedlora.aggregation.safetensors.TensorInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A copy of a federation's base model on the client's own disk (an HF directory, e.g. from the HF cache), compared
 * with the federation's version-0 full state entry by entry: every tensor by name, shape, dtype and the sha256 of the
 * bytes the coordinator would send (the local tensor as stored, or converted to fp32 where the federation keeps an
 * adapted layer in fp32), every auxiliary file by its sha256. Only a copy that matches everywhere stands in for the
 * download, so nothing local is trusted without its hash; the digests are remembered per file in a
 * {@link BaseHashCache} under the file's size and mtime. Thread-safe (checks run one at a time).
 */
public final class LocalBaseModel implements AutoCloseable {

    private static final String FILE_KEY = "file";

    private final Path dir;
    private final Checkpoint checkpoint;
    private final Map<String, String> localKeys = new HashMap<>();
    private final BaseHashCache cache;
    private final Map<Path, BaseHashCache.Stat> checked = new HashMap<>();

    private LocalBaseModel(Path dir, Checkpoint checkpoint, String prefix, BaseHashCache cache) {
        this.dir = dir;
        this.checkpoint = checkpoint;
        this.cache = cache;
        for (String key : checkpoint.tensors().keySet()) {
            localKeys.put(Checkpoint.canonicalKey(key, prefix), key);
        }
    }

    /**
     * Opens an HF model directory ({@code config.json} and {@code model.safetensors} or shards).
     *
     * @throws IOException or {@link io.fedlora.aggregation.family.UnsupportedModelException} if it is not one
     */
    public static LocalBaseModel open(Path dir, BaseHashCache cache) throws IOException {
        var spec = ModelFamilies.read(dir);
        Checkpoint c = Checkpoint.open(dir);
        try {
            return new LocalBaseModel(dir, c, c.keyPrefix(spec), cache);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
    }

    public Path dir() {
        return dir;
    }

    /**
     * The first entry, in the order given, that this copy does not hold exactly, or empty when it holds them all. A
     * tensor is hashed only if it matches by name, shape and dtype and its file's digest is not remembered.
     */
    public synchronized Optional<Difference> firstDifference(List<ExpectedEntry> expected) throws IOException {
        try {
            for (ExpectedEntry e : expected) {
                Optional<Difference> d = e.file() ? fileDifference(e) : tensorDifference(e);
                if (d.isPresent()) {
                    return d;
                }
            }
            return Optional.empty();
        } finally {
            cache.save();
        }
    }

    /**
     * The bytes of an entry that {@link #firstDifference} found equal, as the coordinator would send them; refused if
     * its file changed (size or mtime) since that check.
     */
    public synchronized byte[] bytes(ExpectedEntry e) throws IOException {
        if (e.file()) {
            Path p = dir.resolve(e.name());
            requireUnchanged(p);
            return Files.readAllBytes(p);
        }
        String key = localKeys.get(e.name());
        if (key == null) {
            throw new IllegalStateException(e.name() + " is not in " + dir);
        }
        requireUnchanged(checkpoint.fileOf(key));
        return encoded(key, e.dtype());
    }

    private Optional<Difference> fileDifference(ExpectedEntry e) throws IOException {
        Path p = dir.resolve(e.name());
        if (!Files.isRegularFile(p)) {
            return Optional.of(new Difference(e.name(), "missing from " + dir));
        }
        BaseHashCache.Stat stat = BaseHashCache.Stat.of(p);
        String sha = cache.get(p, stat, FILE_KEY).orElse(null);
        if (sha == null) {
            sha = hex(digest().digest(Files.readAllBytes(p)));
            cache.put(p, stat, FILE_KEY, sha);
        }
        checked.put(p, stat);
        return compare(e, sha);
    }

    private Optional<Difference> tensorDifference(ExpectedEntry e) throws IOException {
        String key = localKeys.get(e.name());
        if (key == null) {
            return Optional.of(new Difference(e.name(), "missing from the checkpoint in " + dir));
        }
        TensorInfo info = checkpoint.tensors().get(key);
        if (!Arrays.equals(info.shape(), e.shape())) {
            return Optional.of(new Difference(e.name(), "shape " + Arrays.toString(info.shape()) + " in " + dir
                    + ", the federation's is " + Arrays.toString(e.shape())));
        }
        boolean sameDtype = info.dtype() == e.dtype();
        if (!sameDtype && !(e.dtype() == DType.F32 && info.dtype().isFloatingPoint())) {
            return Optional.of(new Difference(e.name(), "dtype " + info.dtype() + " in " + dir + ", the federation's is "
                    + e.dtype()));
        }
        Path file = checkpoint.fileOf(key);
        BaseHashCache.Stat stat = BaseHashCache.Stat.of(file);
        String cacheKey = "tensor:" + key + ":" + e.dtype().safetensorsName();
        String sha = cache.get(file, stat, cacheKey).orElse(null);
        if (sha == null) {
            MessageDigest md = digest();
            if (sameDtype) {
                md.update(checkpoint.readRaw(key));
            } else {
                md.update(encoded(key, e.dtype()));
            }
            sha = hex(md.digest());
            cache.put(file, stat, cacheKey, sha);
        }
        checked.put(file, stat);
        return compare(e, sha);
    }

    private static Optional<Difference> compare(ExpectedEntry e, String localSha) {
        return localSha.equalsIgnoreCase(e.sha256()) ? Optional.empty()
                : Optional.of(new Difference(e.name(), "sha256 " + localSha + " locally, the federation's is " + e.sha256()));
    }

    private byte[] encoded(String key, DType dtype) {
        TensorInfo info = checkpoint.tensors().get(key);
        if (info.dtype() == dtype) {
            ByteBuffer raw = checkpoint.readRaw(key);
            byte[] out = new byte[raw.remaining()];
            raw.get(out);
            return out;
        }
        return SafetensorsWriter.toBytes(checkpoint.readFloat(key), dtype);
    }

    private void requireUnchanged(Path file) throws IOException {
        BaseHashCache.Stat then = checked.get(file);
        if (then == null || !then.equals(BaseHashCache.Stat.of(file))) {
            throw new IOException(file + " changed since it was checked against the federation's base model");
        }
    }

    /** Entries of this copy that the check covered, by file: for logs. */
    public synchronized Map<Path, BaseHashCache.Stat> checkedFiles() {
        return new LinkedHashMap<>(checked);
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    private static String hex(byte[] b) {
        return HexFormat.of().formatHex(b);
    }

    @Override
    public void close() throws IOException {
        checkpoint.close();
    }
}
