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
        Path single = dir.resolve(SINGLE_FILE);
        if (Files.isRegularFile(single)) {
            return List.of(single);
        }
        Path index = dir.resolve(INDEX_FILE);
        if (!Files.isRegularFile(index)) {
            throw new UnsupportedModelException(SINGLE_FILE, dir + " has neither " + SINGLE_FILE + " nor " + INDEX_FILE);
        }
        JsonNode map;
        try {
            map = JSON.readTree(index.toFile()).get("weight_map");
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new UnsupportedModelException(INDEX_FILE, "not valid JSON: " + e.getOriginalMessage());
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
            if (!Files.isRegularFile(p)) {
                throw new UnsupportedModelException(INDEX_FILE, "shard '" + shard + "' is missing from " + dir);
            }
            out.add(p);
        }
        return out;
    }

    public static Checkpoint open(Path dir) throws IOException {
        List<SafetensorsReader> readers = new ArrayList<>();
        try {
            for (Path f : files(dir)) {
                readers.add(SafetensorsReader.open(f));
            }
            return new Checkpoint(dir, readers);
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
        List<TensorData> out = new ArrayList<>();
        for (TensorInfo info : tensors.values()) {
            out.add(TensorData.raw(info.name(), info.dtype(), info.shape(), readRaw(info.name())));
        }
        Map<String, String> meta = new LinkedHashMap<>(metadata());
        meta.putIfAbsent("format", "pt");
        SafetensorsWriter.write(file, out, meta);
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
