package io.fedlora.coordinator.federation;

import com.fasterxml.jackson.core.type.TypeReference;
import io.fedlora.aggregation.lora.LoraScaling;
import io.fedlora.coordinator.config.JsonColumns;
import io.fedlora.coordinator.config.Rows;
import io.fedlora.coordinator.model.LayerShape;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/** The {@code federations} and {@code federation_files} tables. */
@Repository
public class FederationRepository {

    private static final String COLUMNS = "id, name, base_model_path, base_model, target_modules::text AS target_modules, rank, alpha,"
            + " use_rslora, strategy, weighting, rounds, clients_fraction, clients_minimum, round_deadline_seconds,"
            + " min_clients, max_round_retries, evaluate, training::text AS training, max_update_norm, max_examples_per_update, status,"
            + " status_reason, current_round, created_at, updated_at, started_at, ended_at";

    private final JdbcClient jdbc;
    private final JsonColumns json;

    public FederationRepository(JdbcClient jdbc, JsonColumns json) {
        this.jdbc = jdbc;
        this.json = json;
    }

    public void insert(String id, FederationSpec s, String baseBlob, List<LayerShape> layers, String keyPrefix) {
        jdbc.sql("""
                INSERT INTO federations (id, name, base_model_path, target_modules, rank, alpha, use_rslora, strategy,
                  weighting, rounds, clients_fraction, clients_minimum, round_deadline_seconds, min_clients,
                  max_round_retries, evaluate, training, max_update_norm, base_blob_sha256, lora_layers, key_prefix, status,
                  base_model, max_examples_per_update)
                VALUES (:id, :name, :path, :targets::jsonb, :rank, :alpha, :rslora, :strategy, :weighting, :rounds,
                  :fraction, :minimum, :deadline, :minClients, :retries, :evaluate, :training::jsonb, :maxNorm, :baseBlob,
                  :layers::jsonb, :prefix, 'CREATED',
                  :baseModel, :maxExamples)""")
                .param("maxExamples", s.maxExamplesPerUpdate())
                .param("baseModel", s.baseModel())
                .param("id", UUID.fromString(id))
                .param("name", s.name())
                .param("path", s.baseModelPath())
                .param("targets", json.write(s.targetModules()))
                .param("rank", s.rank())
                .param("alpha", s.alpha())
                .param("rslora", s.useRslora())
                .param("strategy", s.strategy())
                .param("weighting", s.weighting())
                .param("rounds", s.rounds())
                .param("fraction", s.clientsPerRound().fraction())
                .param("minimum", s.clientsPerRound().minimum())
                .param("deadline", s.roundDeadlineSeconds())
                .param("minClients", s.minClients())
                .param("retries", s.maxRoundRetries())
                .param("evaluate", s.evaluate())
                .param("training", json.write(s.training()))
                .param("maxNorm", s.maxUpdateNorm())
                .param("baseBlob", baseBlob)
                .param("layers", json.write(layers))
                .param("prefix", keyPrefix)
                .update();
    }

    public void insertFile(String federationId, String name, String blobSha) {
        jdbc.sql("INSERT INTO federation_files (federation_id, name, blob_sha256) VALUES (:f, :n, :b)")
                .param("f", UUID.fromString(federationId)).param("n", name).param("b", blobSha).update();
    }

    /** Auxiliary files of the base model directory: name to blob sha256. */
    public Map<String, String> files(String federationId) {
        return jdbc.sql("SELECT name, blob_sha256 FROM federation_files WHERE federation_id = :f ORDER BY name")
                .param("f", UUID.fromString(federationId))
                .query(rs -> {
                    Map<String, String> m = new java.util.LinkedHashMap<>();
                    while (rs.next()) {
                        m.put(rs.getString(1), rs.getString(2));
                    }
                    return m;
                });
    }

    public Optional<Federation> find(String id) {
        UUID uuid = Rows.uuid(id);
        if (uuid == null) {
            return Optional.empty();
        }
        return jdbc.sql("SELECT " + COLUMNS + " FROM federations WHERE id = :id").param("id", uuid)
                .query(this::map).optional();
    }

    /** Locks the federation row for the rest of the transaction; every state transition starts here. */
    public Optional<Federation> lock(String id) {
        UUID uuid = Rows.uuid(id);
        if (uuid == null) {
            return Optional.empty();
        }
        return jdbc.sql("SELECT " + COLUMNS + " FROM federations WHERE id = :id FOR UPDATE").param("id", uuid)
                .query(this::map).optional();
    }

    public List<Federation> findAll() {
        return jdbc.sql("SELECT " + COLUMNS + " FROM federations ORDER BY created_at, id").query(this::map).list();
    }

    public List<String> idsWithStatus(Collection<FederationStatus> statuses) {
        return jdbc.sql("SELECT id::text FROM federations WHERE status IN (:s) ORDER BY created_at")
                .param("s", statuses.stream().map(Enum::name).toList())
                .query(String.class).list();
    }

    public FederationModel model(String id) {
        return jdbc.sql("SELECT id::text, base_blob_sha256, lora_layers::text, key_prefix, alpha, rank, use_rslora"
                        + " FROM federations WHERE id = :id")
                .param("id", UUID.fromString(id))
                .query((rs, n) -> new FederationModel(rs.getString(1), rs.getString(2),
                        json.read(rs.getString(3), new TypeReference<List<LayerShape>>() {}), rs.getString(4),
                        new LoraScaling(rs.getDouble(5), rs.getInt(6), rs.getBoolean(7))))
                .single();
    }

    /**
     * Moves a federation to {@code to} only if it is currently in one of {@code from}; returns whether
     * it did (an optimistic check, so concurrent schedulers or admin calls cannot double-apply).
     */
    public boolean transition(String id, Collection<FederationStatus> from, FederationStatus to, String reason) {
        String timing = switch (to) {
            case RUNNING -> ", started_at = COALESCE(started_at, now())";
            case COMPLETED, CANCELLED, FAILED -> ", ended_at = now()";
            default -> "";
        };
        return jdbc.sql("UPDATE federations SET status = :to, status_reason = :reason, updated_at = now()" + timing
                        + " WHERE id = :id AND status IN (:from)")
                .param("to", to.name())
                .param("reason", reason)
                .param("id", UUID.fromString(id))
                .param("from", from.stream().map(Enum::name).toList())
                .update() == 1;
    }

    public void setCurrentRound(String id, int round) {
        jdbc.sql("UPDATE federations SET current_round = :r, updated_at = now() WHERE id = :id")
                .param("r", round).param("id", UUID.fromString(id)).update();
    }

    public boolean nameTaken(String name) {
        return jdbc.sql("SELECT count(*) FROM federations WHERE name = :n").param("n", name).query(Long.class).single() > 0;
    }

    private Federation map(ResultSet rs, int row) throws SQLException {
        FederationSpec spec = new FederationSpec(
                rs.getString("name"),
                rs.getString("base_model_path"),
                json.read(rs.getString("target_modules"), new TypeReference<List<String>>() {}),
                rs.getInt("rank"),
                rs.getDouble("alpha"),
                rs.getBoolean("use_rslora"),
                rs.getString("strategy"),
                rs.getString("weighting"),
                rs.getInt("rounds"),
                new FederationSpec.ClientsPerRound(rs.getDouble("clients_fraction"), rs.getInt("clients_minimum")),
                rs.getInt("round_deadline_seconds"),
                rs.getInt("min_clients"),
                rs.getInt("max_round_retries"),
                rs.getBoolean("evaluate"),
                json.read(rs.getString("training"), FederationSpec.TrainingSpec.class),
                rs.getDouble("max_update_norm"),
                rs.getString("base_model"),
                rs.getLong("max_examples_per_update"));
        return new Federation(rs.getString("id"), rs.getString("name"),
                FederationStatus.valueOf(rs.getString("status")), rs.getString("status_reason"),
                rs.getInt("current_round"), spec, Rows.instant(rs, "created_at"), Rows.instant(rs, "updated_at"),
                Rows.instant(rs, "started_at"), Rows.instant(rs, "ended_at"));
    }
}
