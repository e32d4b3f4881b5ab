package io.fedlora.coordinator.model;

import io.fedlora.coordinator.config.Rows;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/** The {@code model_versions} table (rows are immutable; a trigger refuses updates). */
@Repository
public class ModelVersionRepository {

    private static final String COLUMNS = "federation_id::text AS federation_id, version, round_id, adapter_blob,"
            + " weights_blob, residual_blob, residual_kind, created_at";

    private final JdbcClient jdbc;

    public ModelVersionRepository(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    /** Inserts a version; false if it already exists (a recomputed aggregation after a crash). */
    public boolean insert(ModelVersion v) {
        return jdbc.sql("""
                INSERT INTO model_versions (federation_id, version, round_id, adapter_blob, weights_blob, residual_blob, residual_kind)
                VALUES (:f, :v, :r, :a, :w, :res, :kind) ON CONFLICT (federation_id, version) DO NOTHING""")
                .param("f", UUID.fromString(v.federationId()))
                .param("v", v.version())
                .param("r", v.roundId())
                .param("a", v.adapterBlob())
                .param("w", v.weightsBlob())
                .param("res", v.residualBlob())
                .param("kind", v.residualKind().name())
                .update() == 1;
    }

    public Optional<ModelVersion> find(String federationId, long version) {
        UUID f = Rows.uuid(federationId);
        if (f == null) {
            return Optional.empty();
        }
        return jdbc.sql("SELECT " + COLUMNS + " FROM model_versions WHERE federation_id = :f AND version = :v")
                .param("f", f).param("v", version).query(this::map).optional();
    }

    public List<ModelVersion> list(String federationId) {
        return jdbc.sql("SELECT " + COLUMNS + " FROM model_versions WHERE federation_id = :f ORDER BY version")
                .param("f", UUID.fromString(federationId)).query(this::map).list();
    }

    public Optional<ModelVersion> latest(String federationId) {
        return jdbc.sql("SELECT " + COLUMNS + " FROM model_versions WHERE federation_id = :f ORDER BY version DESC LIMIT 1")
                .param("f", UUID.fromString(federationId)).query(this::map).optional();
    }

    private ModelVersion map(ResultSet rs, int row) throws SQLException {
        return new ModelVersion(rs.getString("federation_id"), rs.getLong("version"), Rows.nullableLong(rs, "round_id"),
                rs.getString("adapter_blob"), rs.getString("weights_blob"), rs.getString("residual_blob"),
                ModelVersion.ResidualKind.valueOf(rs.getString("residual_kind")), Rows.instant(rs, "created_at"));
    }
}
