package io.fedlora.coordinator.gateway;

import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.coordinator.blob.BlobStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.stereotype.Component;

/**
 * sha256 of single tensors inside immutable blobs, computed once and remembered (bounded LRU): blobs
 * never change, so a digest stays valid for as long as the blob exists. Read in 1 MiB chunks, never mapped.
 */
@Component
public class TensorDigests {

    private static final int CAPACITY = 20_000;

    private final BlobStore blobs;
    private final Map<String, String> cache = new LinkedHashMap<>(256, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, String> eldest) {
            return size() > CAPACITY;
        }
    };

    public TensorDigests(BlobStore blobs) {
        this.blobs = blobs;
    }

    public String tensor(String blobSha, String tensor, SafetensorsReader open) {
        String key = blobSha + "/" + tensor;
        synchronized (cache) {
            String hit = cache.get(key);
            if (hit != null) {
                return hit;
            }
        }
        MessageDigest md = BlobStore.sha256Digest();
        // positional reads, not a mapping: hashing a 500 MB base through mappings kept it all resident (and counted
        // in the process's RSS) until a garbage collection unmapped them
        open.readChunks(tensor, 1 << 20, md::update);
        String hex = HexFormat.of().formatHex(md.digest());
        synchronized (cache) {
            cache.put(key, hex);
        }
        return hex;
    }

    /** sha256 of a whole blob is its name. */
    public String file(String blobSha) {
        if (!blobs.exists(blobSha)) {
            throw new UncheckedIOException(new IOException("blob " + blobSha + " is missing from " + blobs.path(blobSha)));
        }
        return blobSha;
    }
}
