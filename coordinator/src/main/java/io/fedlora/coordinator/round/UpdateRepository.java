package io.fedlora.coordinator.round;

import io.fedlora.coordinator.config.JsonColumns;
import io.fedlora.coordinator.config.Rows;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/** The {@code updates} table (metadata of accepted client updates). */
@Repository
public class UpdateRepository {

    private static final String COLUMNS = "u.id::text AS id, u.round_id, u.client_id::text AS client_id, u.upload_id,"
            + " u.blob_sha256, u.upload_sha256, u.num_examples, u.base_model_version, u.bytes_received,"
            + " u.metrics::text AS metrics, u.status, u.created_at";

    private final JdbcClient jdbc;
    private final JsonColumns json;

    public UpdateRepository(JdbcClient jdbc, JsonColumns json) {
        this.jdbc = jdbc;
        this.json = json;
    }

    public void insert(StoredUpdate u) {
        jdbc.sql("""
                INSERT INTO updates (id, round_id, client_id, upload_id, blob_sha256, upload_sha256, num_examples,
                  base_model_version, bytes_received, metrics, status)
                VALUES (:id, :r, :c, :up, :blob, :usha, :n, :v, :bytes, :m::jsonb, 'ACCEPTED')""")
                .param("id", UUID.fromString(u.id())).param("r", u.roundId()).param("c", UUID.fromString(u.clientId()))
                .param("up", u.uploadId()).param("blob", u.blobSha256()).param("usha", u.uploadSha256())
                .param("n", u.numExamples()).param("v", u.baseModelVersion()).param("bytes", u.bytesReceived())
                .param("m", json.write(u.metrics()))
                .update();
    }

    /** An earlier upload with this id by this client for any attempt of round {@code number}. */
    public Optional<StoredUpdate> findUpload(String federationId, int number, String clientId, String uploadId) {
        return jdbc.sql("SELECT " + COLUMNS + " FROM updates u JOIN rounds r ON r.id = u.round_id"
                        + " WHERE r.federation_id = :f AND r.number = :n AND u.client_id = :c AND u.upload_id = :up")
                .param("f", UUID.fromString(federationId)).param("n", number).param("c", UUID.fromString(clientId))
                .param("up", uploadId).query(this::map).optional();
    }

    /** The accepted update of a client in an attempt, if any. */
    public Optional<StoredUpdate> accepted(long roundId, String clientId) {
        return jdbc.sql("SELECT " + COLUMNS + " FROM updates u WHERE u.round_id = :r AND u.client_id = :c"
                        + " AND u.status IN ('ACCEPTED','AGGREGATED')")
                .param("r", roundId).param("c", UUID.fromString(clientId)).query(this::map).optional();
    }

    /** Accepted updates of an attempt in a fixed order, so a recomputed aggregation sums identically. */
    public List<StoredUpdate> forAggregation(long roundId) {
        // by client name (byte order, whatever the server's collation), then id: the names are the operator's and
        // stay the same when a federation is re-run, so the fp32 sums, and with them the results, repeat exactly
        return jdbc.sql("SELECT " + COLUMNS + " FROM updates u JOIN clients c ON c.id = u.client_id"
                        + " WHERE u.round_id = :r AND u.status IN ('ACCEPTED','AGGREGATED')"
                        + " ORDER BY c.name COLLATE \"C\", u.client_id")
                .param("r", roundId).query(this::map).list();
    }

    /** {@link #forAggregation} with each update's client name, the key of the accumulator's order. */
    public List<NamedUpdate> forAggregationNamed(long roundId) {
        return jdbc.sql("SELECT " + COLUMNS + ", c.name AS client_name FROM updates u JOIN clients c ON c.id = u.client_id"
                        + " WHERE u.round_id = :r AND u.status IN ('ACCEPTED','AGGREGATED')"
                        + " ORDER BY c.name COLLATE \"C\", u.client_id")
                .param("r", roundId).query((rs, row) -> new NamedUpdate(rs.getString("client_name"), map(rs, row))).list();
    }

    public List<StoredUpdate> forRound(long roundId) {
        return jdbc.sql("SELECT " + COLUMNS + " FROM updates u WHERE u.round_id = :r ORDER BY u.client_id")
                .param("r", roundId).query(this::map).list();
    }

    public void setStatus(long roundId, String from, String to) {
        jdbc.sql("UPDATE updates SET status = :to WHERE round_id = :r AND status = :from")
                .param("to", to).param("r", roundId).param("from", from).update();
    }

    private StoredUpdate map(ResultSet rs, int row) throws SQLException {
        return new StoredUpdate(rs.getString("id"), rs.getLong("round_id"), rs.getString("client_id"),
                rs.getString("upload_id"), rs.getString("blob_sha256"), rs.getString("upload_sha256"),
                rs.getLong("num_examples"), rs.getLong("base_model_version"), rs.getLong("bytes_received"),
                json.readMap(rs.getString("metrics")), rs.getString("status"), Rows.instant(rs, "created_at"));
    }

    /** Metrics of a stored update as numbers (non-numeric values are dropped). */
    public static Map<String, Double> numericMetrics(StoredUpdate u) {
        Map<String, Double> out = new java.util.LinkedHashMap<>();
        u.metrics().forEach((k, v) -> {
            if (v instanceof Number n) {
                out.put(k, n.doubleValue());
            }
        });
        return out;
    }
}
