package io.fedlora.aggregation.basemodel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * sha256 digests of a local base model's tensors and files, remembered per file under the file's size and
 * modification time: a file whose size and mtime are unchanged since it was hashed is not read again to check it
 * (as git's index trusts a file's stat), any change drops everything remembered for it. Optionally kept in a JSON file
 * so an agent hashes a 500 MB model once, not at every start. Thread-safe: the benchmark's simulated clients share one.
 */
public final class BaseHashCache {

    private static final Logger log = LoggerFactory.getLogger(BaseHashCache.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What a file looked like when its digests were computed. */
    public record Stat(long size, long mtimeMillis) {
        public static Stat of(Path file) throws IOException {
            BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
            return new Stat(a.size(), a.lastModifiedTime().toMillis());
        }
    }

    private record Entry(Stat stat, Map<String, String> digests) {}

    private final Path store;
    private final Map<String, Entry> files = new HashMap<>();

    private BaseHashCache(Path store) {
        this.store = store;
    }

    /** Remembers only in memory. */
    public static BaseHashCache inMemory() {
        return new BaseHashCache(null);
    }

    /** Remembers in {@code file} too (read now if it exists; an unreadable one is ignored and rewritten). */
    public static BaseHashCache persistent(Path file) {
        BaseHashCache c = new BaseHashCache(file);
        if (Files.isRegularFile(file)) {
            try {
                JsonNode root = JSON.readTree(file.toFile());
                root.fields().forEachRemaining(f -> {
                    JsonNode n = f.getValue();
                    Map<String, String> d = new HashMap<>();
                    n.path("sha256").fields().forEachRemaining(e -> d.put(e.getKey(), e.getValue().asText()));
                    c.files.put(f.getKey(), new Entry(new Stat(n.path("size").asLong(-1), n.path("mtime_ms").asLong(-1)), d));
                });
            } catch (IOException | RuntimeException e) {
                log.warn("ignoring the unreadable base model hash cache {}: {}", file, e.toString());
                c.files.clear();
            }
        }
        return c;
    }

    /** The digest remembered for {@code key} of {@code file} if the file still has the size and mtime it had then. */
    public synchronized Optional<String> get(Path file, Stat now, String key) {
        Entry e = files.get(file.toAbsolutePath().toString());
        return e == null || !e.stat().equals(now) ? Optional.empty() : Optional.ofNullable(e.digests().get(key));
    }

    /** Remembers a digest computed from {@code file} while it had {@code stat}. */
    public synchronized void put(Path file, Stat stat, String key, String sha256) {
        String k = file.toAbsolutePath().toString();
        Entry e = files.get(k);
        if (e == null || !e.stat().equals(stat)) {
            e = new Entry(stat, new HashMap<>());
            files.put(k, e);
        }
        e.digests().put(key, sha256);
    }

    /** Writes the persistent file (atomically); a no-op in memory. */
    public synchronized void save() {
        if (store == null) {
            return;
        }
        ObjectNode root = JSON.createObjectNode();
        files.forEach((name, e) -> {
            ObjectNode n = root.putObject(name);
            n.put("size", e.stat().size());
            n.put("mtime_ms", e.stat().mtimeMillis());
            ObjectNode d = n.putObject("sha256");
            e.digests().forEach(d::put);
        });
        try {
            Files.createDirectories(store.toAbsolutePath().getParent());
            Path tmp = store.resolveSibling(store.getFileName() + ".tmp");
            JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), root);
            Files.move(tmp, store, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the base model hash cache " + store, e);
        }
    }
}
