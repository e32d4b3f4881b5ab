package io.fedlora.coordinator.blob;

import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/** The {@code blobs} rows that make a durable file referenceable by other rows. */
@Repository
public class BlobRepository {

    private final JdbcClient jdbc;

    public BlobRepository(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    /** Every registered blob's sha256. */
    public java.util.Set<String> registered() {
        return new java.util.HashSet<>(jdbc.sql("SELECT sha256 FROM blobs").query(String.class).list());
    }

    /** Whether a committed row registered this blob. */
    public boolean isRegistered(String sha256) {
        return jdbc.sql("SELECT count(*) FROM blobs WHERE sha256 = :sha").param("sha", sha256).query(Long.class).single() > 0;
    }

    /** Records a blob (idempotent); call inside the transaction that inserts the referencing row. */
    public void register(StoredBlob blob) {
        jdbc.sql("INSERT INTO blobs (sha256, size_bytes) VALUES (:sha, :size) ON CONFLICT (sha256) DO NOTHING")
                .param("sha", blob.sha256())
                .param("size", blob.sizeBytes())
                .update();
    }
}
