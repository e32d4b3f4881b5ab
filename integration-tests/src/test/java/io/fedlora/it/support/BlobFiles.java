package io.fedlora.it.support;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Finds a blob of the coordinator's content-addressed store by its sha256 (stored as
 * {@code <2 hex>/<62 hex>} somewhere under the data directory, or under its full name), and checks that
 * the file's bytes hash to its name.
 */
public final class BlobFiles {

    private BlobFiles() {
    }

    public static Path find(Path dataDir, String sha256) throws IOException {
        try (Stream<Path> files = Files.walk(dataDir)) {
            Path file = files.filter(Files::isRegularFile)
                    .filter(p -> isNamed(p, sha256))
                    .findFirst()
                    .orElseThrow(() -> new IOException("no blob " + sha256 + " under " + dataDir));
            String actual = Hashes.sha256(Files.readAllBytes(file));
            if (!actual.equals(sha256)) {
                throw new IOException("blob " + file + " hashes to " + actual + ", not to its name");
            }
            return file;
        }
    }

    /** The sha256 names of the blob files in a coordinator's store ({@code <dataDir>/blobs/ab/cdef...}). */
    public static Set<String> names(Path dataDir) throws IOException {
        Path root = dataDir.resolve("blobs");
        try (Stream<Path> files = Files.walk(root, 2)) {
            return files.filter(Files::isRegularFile)
                    .filter(p -> !p.getParent().equals(root) && !p.getParent().getFileName().toString().equals("tmp"))
                    .map(p -> p.getParent().getFileName().toString() + p.getFileName())
                    .collect(Collectors.toCollection(TreeSet::new));
        }
    }

    /** The files in the store's temp directory (uploads and downloads being written). */
    public static Set<Path> temps(Path dataDir) throws IOException {
        try (Stream<Path> files = Files.list(dataDir.resolve("blobs").resolve("tmp"))) {
            return files.collect(Collectors.toCollection(TreeSet::new));
        }
    }

    /** The blob file of {@code sha256} in the store of {@code dataDir}, found or not. */
    public static Path path(Path dataDir, String sha256) {
        return dataDir.resolve("blobs").resolve(sha256.substring(0, 2)).resolve(sha256.substring(2));
    }

    /**
     * The {@code __metadata__} of a blob that is a safetensors file (an update names its {@code client} and
     * {@code upload} there); empty for any other blob.
     */
    public static Map<String, String> metadata(Path file) {
        try (FileChannel ch = FileChannel.open(file)) {
            ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            if (ch.read(length, 0) != 8) {
                return Map.of();
            }
            long n = length.getLong(0);
            if (n <= 0 || n > 1 << 24 || n > ch.size() - 8) {
                return Map.of();
            }
            ByteBuffer header = ByteBuffer.allocate((int) n);
            ch.read(header, 8);
            JsonNode meta = JSON.readTree(header.array()).path("__metadata__");
            Map<String, String> out = new TreeMap<>();
            meta.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asText()));
            return out;
        } catch (IOException | RuntimeException notSafetensors) {
            return Map.of();
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private static boolean isNamed(Path file, String sha256) {
        String name = file.getFileName().toString();
        Path parent = file.getParent();
        return name.startsWith(sha256)
                || parent != null && (parent.getFileName() + name).equals(sha256);
    }
}
