package io.fedlora.aggregation.family;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
import io.fedlora.aggregation.safetensors.TensorData;
import io.fedlora.aggregation.safetensors.TensorInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The weights of an HF model directory as one set of tensors, whether saved as one {@code model.safetensors} or
 * sharded into {@code model-0000N-of-0000M.safetensors} with {@code model.safetensors.index.json}. Shard names come
 * from the index and must be plain file names inside the directory.
 */
public final class Checkpoint implements AutoCloseable {

    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String HEAD_PREFIX = "lm_head.";

    private final Path dir;
    private final List<SafetensorsReader> readers;
    private final Map<String, SafetensorsReader> byTensor;
    private final Map<String, TensorInfo> tensors;

    private Checkpoint(Path dir, List<SafetensorsReader> readers) {
        this.dir = dir;
        this.readers = readers;
        this.byTensor = new LinkedHashMap<>();
        this.tensors = new LinkedHashMap<>();
        for (SafetensorsReader r : readers) {
            for (TensorInfo info : r.tensors().values()) {
                if (byTensor.put(info.name(), r) != null) {
                    throw new UnsupportedModelException(INDEX_FILE, "tensor '" + info.name() + "' is in more than one shard");
                }
                tensors.put(info.name(), info);
            }
        }
    }

    /** Whether the directory holds weights in one of the two forms. */
    public static boolean present(Path dir) {
        return Files.isRegularFile(dir.resolve(SINGLE_FILE)) || Files.isRegularFile(dir.resolve(INDEX_FILE));
    }

    /** The weight files of a directory: the single file, or the shards the index names, in index order. */
    public static List<Path> files(Path dir) throws IOException {
        return files(dir, true);
    }

    /**
     * As {@link #files(Path)}; with {@code followLinks} false (a directory named by an untrusted request) the index and
     * every shard must be regular files in their own right: a symbolic link, FIFO or device is refused unopened.
     */
    public static List<Path> files(Path dir, boolean followLinks) throws IOException {
        java.nio.file.LinkOption[] how = followLinks ? new java.nio.file.LinkOption[0]
                : new java.nio.file.LinkOption[] {java.nio.file.LinkOption.NOFOLLOW_LINKS};
        Path single = dir.resolve(SINGLE_FILE);
        if (Files.isRegularFile(single, how)) {
            return List.of(single);
        }
        Path index = dir.resolve(INDEX_FILE);
        if (!Files.isRegularFile(index, how)) {
            throw new UnsupportedModelException(SINGLE_FILE, dir + " has neither " + SINGLE_FILE + " nor " + INDEX_FILE
                    + (followLinks ? "" : " as a regular file"));
        }
        JsonNode map;
        try (java.io.InputStream in = Files.newInputStream(index, how)) {
            map = JSON.readTree(in).get("weight_map");
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            // the location, not the parser's message: that can quote the file's content
            throw new UnsupportedModelException(INDEX_FILE, "not valid JSON" + (e.getLocation() == null ? ""
                    : " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")"));
        }
        if (map == null || !map.isObject() || map.isEmpty()) {
            throw new UnsupportedModelException(INDEX_FILE, "has no weight_map");
        }
        Set<String> shards = new LinkedHashSet<>();
        for (Iterator<JsonNode> it = map.elements(); it.hasNext(); ) {
            shards.add(it.next().asText());
        }
        List<Path> out = new ArrayList<>();
        for (String shard : shards) {
            Path p = dir.resolve(shard).normalize();
            if (shard.contains("/") || shard.contains("\\") || !p.getParent().equals(dir.normalize()) || !shard.endsWith(".safetensors")) {
                throw new UnsupportedModelException(INDEX_FILE, "shard '" + shard + "' is not a .safetensors file name in the directory");
            }
            if (!Files.isRegularFile(p, how)) {
                throw new UnsupportedModelException(INDEX_FILE, "shard '" + shard + "' is missing from " + dir
                        + (followLinks ? "" : " or is not a regular file (symbolic links are not followed)"));
            }
            out.add(p);
        }
        return out;
    }

    public static Checkpoint open(Path dir) throws IOException {
        return open(dir, true);
    }

    /** As {@link #open(Path)}; with {@code followLinks} false no symbolic link is followed to the index or a shard. */
    public static Checkpoint open(Path dir, boolean followLinks) throws IOException {
        List<SafetensorsReader> readers = new ArrayList<>();
        try {
            for (Path f : files(dir, followLinks)) {
                readers.add(SafetensorsReader.open(f, followLinks));
            }
            Checkpoint c = new Checkpoint(dir, readers);
            c.checkIndexNamesEveryTensor(followLinks);
            return c;
        } catch (IOException | RuntimeException e) {
            for (SafetensorsReader r : readers) {
                r.close();
            }
            throw e;
        }
    }

    public Path dir() {
        return dir;
    }

    /** Whether the weights are split over several files. */
    public boolean sharded() {
        return readers.size() > 1 || !readers.get(0).file().getFileName().toString().equals(SINGLE_FILE);
    }

    /** Every tensor, in shard then header order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public INDArray readFloat(String name) {
        return reader(name).readFloat(name);
    }

    public ByteBuffer readRaw(String name) {
        return reader(name).readRaw(name);
    }

    /** The file (the single file or a shard) that holds tensor {@code name}. */
    public Path fileOf(String name) {
        return reader(name).file();
    }

    /** Metadata of the first file. */
    public Map<String, String> metadata() {
        return readers.get(0).metadata();
    }

    private SafetensorsReader reader(String name) {
        SafetensorsReader r = byTensor.get(name);
        if (r == null) {
            throw new IllegalArgumentException("no tensor '" + name + "' in the weights of " + dir);
        }
        return r;
    }

    /** Writes every tensor, byte for byte, into one safetensors file (for a sharded checkpoint the coordinator keeps). */
    public void writeSingleFile(Path file) throws IOException {
        SafetensorsWriter.write(file, rawTensors(), singleFileMetadata());
    }

    /**
     * Every tensor as its stored bytes, in {@link #tensors()} order: regions of the shards the kernel copies when
     * written (not mapped, not read into memory), valid while this checkpoint is open.
     */
    public List<TensorData> rawTensors() {
        List<TensorData> out = new ArrayList<>();
        for (TensorInfo info : tensors.values()) {
            out.add(reader(info.name()).rawData(info.name()));
        }
        return out;
    }

    /** The metadata a single file holding these tensors carries: the first file's, with {@code format: pt}. */
    public Map<String, String> singleFileMetadata() {
        Map<String, String> meta = new LinkedHashMap<>(metadata());
        meta.putIfAbsent("format", "pt");
        return meta;
    }

    /**
     * For a sharded checkpoint, each tensor must be in the shard the index maps it to and the index must name every
     * tensor: HF loads a tensor from the shard its {@code weight_map} names, so a checkpoint that disagrees with its
     * own index is not the model HF would load.
     */
    private void checkIndexNamesEveryTensor(boolean followLinks) throws IOException {
        if (!sharded()) {
            return;
        }
        java.nio.file.LinkOption[] how = followLinks ? new java.nio.file.LinkOption[0]
                : new java.nio.file.LinkOption[] {java.nio.file.LinkOption.NOFOLLOW_LINKS};
        JsonNode map;
        try (java.io.InputStream in = Files.newInputStream(dir.resolve(INDEX_FILE), how)) {
            map = JSON.readTree(in).get("weight_map");
        }
        for (Map.Entry<String, SafetensorsReader> e : byTensor.entrySet()) {
            JsonNode shard = map.get(e.getKey());
            String actual = e.getValue().file().getFileName().toString();
            if (shard == null || !shard.asText().equals(actual)) {
                throw new UnsupportedModelException(INDEX_FILE, "tensor '" + e.getKey() + "' is stored in " + actual
                        + " but the weight_map " + (shard == null ? "does not name it" : "maps it to " + shard.asText()));
            }
        }
        for (Iterator<String> it = map.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            if (!byTensor.containsKey(name)) {
                throw new UnsupportedModelException(INDEX_FILE, "the weight_map names tensor '" + name + "', which its shard "
                        + map.get(name).asText() + " does not hold");
            }
        }
    }

    /**
     * Checks the tensors against the spec: every weight present with its shape, nothing unknown but the family's
     * buffers. Returns the key prefix the checkpoint uses ({@link ModelSpec#optionalKeyPrefix()} or empty).
     */
    public String checkAgainst(ModelSpec spec) {
        String prefix = keyPrefix(spec);
        Map<String, long[]> expected = spec.weightShapes();
        Set<String> seen = new LinkedHashSet<>();
        for (TensorInfo info : tensors.values()) {
            String key = canonicalKey(info.name(), prefix);
            if (spec.isIgnoredTensor(key)) {
                continue;
            }
            long[] shape = expected.get(key);
            if (shape == null) {
                if (key.equals("lm_head.weight")) {
                    throw new UnsupportedModelException("tie_word_embeddings", "the checkpoint has its own lm_head.weight but "
                            + "the config ties the head to the embedding; fix tie_word_embeddings");
                }
                throw new UnsupportedModelException(info.name(), "is not a weight of a " + spec.family() + " model of this config");
            }
            if (!Arrays.equals(shape, info.shape())) {
                throw new UnsupportedModelException(info.name(), "has shape " + Arrays.toString(info.shape())
                        + ", the config needs " + Arrays.toString(shape));
            }
            if (!info.dtype().isFloatingPoint()) {
                throw new UnsupportedModelException(info.name(), "has non-float dtype " + info.dtype());
            }
            seen.add(key);
        }
        for (String key : expected.keySet()) {
            if (!seen.contains(key)) {
                throw new UnsupportedModelException(key.equals("lm_head.weight") ? "tie_word_embeddings" : key,
                        key.equals("lm_head.weight") ? "is false but the checkpoint has no lm_head.weight"
                                : "is missing from the checkpoint");
            }
        }
        return prefix;
    }

    /**
     * The family's optional prefix when every body tensor carries it ({@code GPT2LMHeadModel} saves
     * {@code transformer.*} next to an unprefixed {@code lm_head.weight}), else empty.
     */
    public String keyPrefix(ModelSpec spec) {
        String opt = spec.optionalKeyPrefix();
        if (opt.isEmpty() || tensors.keySet().stream().noneMatch(k -> k.startsWith(opt))) {
            return "";
        }
        return tensors.keySet().stream().allMatch(k -> k.startsWith(opt) || k.startsWith(HEAD_PREFIX)) ? opt : "";
    }

    /** A checkpoint key without the prefix (the head, outside the body, never has it). */
    public static String canonicalKey(String name, String prefix) {
        return !prefix.isEmpty() && name.startsWith(prefix) ? name.substring(prefix.length()) : name;
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        for (SafetensorsReader r : readers) {
            try {
                r.close();
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
