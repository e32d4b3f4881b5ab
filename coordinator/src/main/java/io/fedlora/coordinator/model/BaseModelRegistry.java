package io.fedlora.coordinator.model;

import io.fedlora.coordinator.admin.AuditLog;
import io.fedlora.coordinator.admin.ConflictException;
import io.fedlora.coordinator.admin.NotFoundException;
import io.fedlora.coordinator.blob.BlobRepository;
import io.fedlora.coordinator.blob.BlobStore;
import io.fedlora.coordinator.blob.StoredBlob;
import io.fedlora.coordinator.config.Rows;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Base models registered once by name. Registration validates the HF directory and snapshots its files into the
 * content-addressed blob store (fsynced, like every blob), so a federation created from the name later does not
 * depend on the directory still being there or unchanged, and one copy serves every federation that uses it.
 */
@Service
public class BaseModelRegistry {

    private static final Logger log = LoggerFactory.getLogger(BaseModelRegistry.class);
    static final String NAME_PATTERN = "[A-Za-z0-9][A-Za-z0-9_.-]{0,99}";

    private final JdbcClient jdbc;
    private final BaseModelInspector inspector;
    private final BaseModelWeights weightsStore;
    private final BlobStore blobs;
    private final BlobRepository blobRows;
    private final AuditLog audit;
    private final TransactionTemplate tx;

    public BaseModelRegistry(JdbcClient jdbc, BaseModelInspector inspector, BaseModelWeights weightsStore, BlobStore blobs,
                             BlobRepository blobRows, AuditLog audit, TransactionTemplate tx) {
        this.jdbc = jdbc;
        this.inspector = inspector;
        this.weightsStore = weightsStore;
        this.blobs = blobs;
        this.blobRows = blobRows;
        this.audit = audit;
        this.tx = tx;
    }

    /** Validates {@code path} as an HF model directory and stores its files under {@code name}. */
    public RegisteredModel register(String name, String path, String actor) {
        if (find(name).isPresent()) {
            throw new ConflictException("a base model named '" + name + "' is already registered");
        }
        BaseModelDirectory dir = inspector.inspect("path", path, List.of());
        // a sharded checkpoint is kept as one safetensors blob with the same tensors
        StoredBlob weights = weightsStore.store(dir);
        Map<String, StoredBlob> files = new LinkedHashMap<>();
        dir.auxFiles().forEach((file, p) -> files.put(file, blobs.putFile(p)));
        tx.executeWithoutResult(s -> {
            if (find(name).isPresent()) {
                throw new ConflictException("a base model named '" + name + "' is already registered");
            }
            blobRows.register(weights);
            files.values().forEach(blobRows::register);
            jdbc.sql("INSERT INTO base_models (name, source_path, weights_blob, size_bytes) VALUES (:n, :p, :w, :s)")
                    .param("n", name).param("p", dir.dir().toString()).param("w", weights.sha256())
                    .param("s", weights.sizeBytes() + files.values().stream().mapToLong(StoredBlob::sizeBytes).sum())
                    .update();
            files.forEach((file, b) -> jdbc.sql("INSERT INTO base_model_files (model_name, name, blob_sha256)"
                    + " VALUES (:m, :f, :b)").param("m", name).param("f", file).param("b", b.sha256()).update());
            audit.record(actor, "base-model.register", null, name, Map.of("path", dir.dir().toString(),
                    "weightsBlob", weights.sha256(), "files", files.keySet(), "weightFiles", dir.weights().size()));
        });
        RegisteredModel m = find(name).orElseThrow();
        log.info("base model '{}' registered from {}: {} bytes in {} file(s)", name, m.sourcePath(), m.sizeBytes(),
                m.files().size() + 1);
        return m;
    }

    public Optional<RegisteredModel> find(String name) {
        return jdbc.sql("SELECT name, source_path, weights_blob, size_bytes, registered_at FROM base_models WHERE name = :n")
                .param("n", name).query((rs, i) -> new RegisteredModel(rs.getString(1), rs.getString(2),
                        rs.getString(3), rs.getLong(4), files(rs.getString(1)), Rows.instant(rs, "registered_at")))
                .optional();
    }

    public RegisteredModel get(String name) {
        return find(name).orElseThrow(() -> new NotFoundException("no registered base model '" + name + "'"));
    }

    public List<RegisteredModel> list() {
        return jdbc.sql("SELECT name FROM base_models ORDER BY name").query(String.class).list().stream()
                .map(this::get).toList();
    }

    private Map<String, String> files(String model) {
        Map<String, String> out = new LinkedHashMap<>();
        jdbc.sql("SELECT name, blob_sha256 FROM base_model_files WHERE model_name = :m ORDER BY name").param("m", model)
                .query((rs, i) -> out.put(rs.getString(1), rs.getString(2))).list();
        return out;
    }

    /**
     * A scratch directory laid out as the registered HF directory was, its files links to the snapshot's blobs,
     * for code that reads a model directory (the inspector). Closing it removes the links, never the blobs.
     */
    public record LinkedDirectory(Path dir) implements AutoCloseable {
        @Override
        public void close() {
            try (java.util.stream.Stream<Path> links = Files.list(dir)) {
                for (Path link : links.toList()) {
                    Files.deleteIfExists(link);
                }
                Files.deleteIfExists(dir);
            } catch (IOException e) {
                log.warn("cannot remove scratch directory {}: {}", dir, e.getMessage());
            }
        }
    }

    public LinkedDirectory linkedDirectory(RegisteredModel m) {
        try {
            Path dir = Files.createTempDirectory("fedlora-base-model-");
            Files.createSymbolicLink(dir.resolve("model.safetensors"), blobs.path(m.weightsBlob()));
            for (Map.Entry<String, String> f : m.files().entrySet()) {
                Files.createSymbolicLink(dir.resolve(f.getKey()), blobs.path(f.getValue()));
            }
            return new LinkedDirectory(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot lay out base model '" + m.name() + "'", e);
        }
    }

    /** The weights blob of a registered model, for a federation created from it. */
    public StoredBlob weightsBlob(RegisteredModel m) {
        return new StoredBlob(m.weightsBlob(), size(m.weightsBlob()));
    }

    /** The auxiliary files' blobs of a registered model, by file name. */
    public Map<String, StoredBlob> fileBlobs(RegisteredModel m) {
        Map<String, StoredBlob> out = new LinkedHashMap<>();
        m.files().forEach((file, sha) -> out.put(file, new StoredBlob(sha, size(sha))));
        return out;
    }

    private long size(String sha) {
        try {
            return Files.size(blobs.path(sha));
        } catch (IOException e) {
            throw new UncheckedIOException("blob " + sha + " of a registered base model is missing", e);
        }
    }
}
