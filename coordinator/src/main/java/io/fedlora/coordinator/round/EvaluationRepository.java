package io.fedlora.coordinator.round;

import io.fedlora.coordinator.config.JsonColumns;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/** The {@code evaluations} table: who must evaluate a published version, and what they reported. */
@Repository
public class EvaluationRepository {

    private final JdbcClient jdbc;
    private final JsonColumns json;

    public EvaluationRepository(JdbcClient jdbc, JsonColumns json) {
        this.jdbc = jdbc;
        this.json = json;
    }

    public void assign(long roundId, String clientId, long version) {
        jdbc.sql("INSERT INTO evaluations (round_id, client_id, model_version, status) VALUES (:r, :c, :v, 'PENDING')"
                        + " ON CONFLICT DO NOTHING")
                .param("r", roundId).param("c", UUID.fromString(clientId)).param("v", version).update();
    }

    /** The status of a client's evaluation for an attempt, or empty if none was assigned. */
    public Optional<String> status(long roundId, String clientId) {
        return jdbc.sql("SELECT status FROM evaluations WHERE round_id = :r AND client_id = :c")
                .param("r", roundId).param("c", UUID.fromString(clientId)).query(String.class).optional();
    }

    /** Stores a report if the evaluation is still pending; false if it was already reported or closed. */
    public boolean report(long roundId, String clientId, long numExamples, double loss, double accuracy,
            Map<String, Double> metrics) {
        return jdbc.sql("UPDATE evaluations SET status = 'REPORTED', reported_at = now(), num_examples = :n, loss = :l,"
                        + " accuracy = :a, metrics = :m::jsonb WHERE round_id = :r AND client_id = :c AND status = 'PENDING'")
                .param("n", numExamples).param("l", loss).param("a", accuracy).param("m", json.write(metrics))
                .param("r", roundId).param("c", UUID.fromString(clientId)).update() == 1;
    }

    public void markMissed(long roundId) {
        jdbc.sql("UPDATE evaluations SET status = 'MISSED' WHERE round_id = :r AND status = 'PENDING'").param("r", roundId).update();
    }

    /** How many clients were asked to evaluate this attempt at all. */
    public long assigned(long roundId) {
        return jdbc.sql("SELECT count(*) FROM evaluations WHERE round_id = :r").param("r", roundId).query(Long.class).single();
    }

    /**
     * Asks every live client of the federation (not revoked, heard from since {@code aliveSince}) that was not yet
     * asked; one statement. Returns how many were added.
     */
    public int assignLive(long roundId, String federationId, long version, java.time.Instant aliveSince) {
        return jdbc.sql("INSERT INTO evaluations (round_id, client_id, model_version, status)"
                        + " SELECT :r, c.id, :v, 'PENDING' FROM clients c WHERE c.federation_id = :f"
                        + " AND c.revoked_at IS NULL AND c.last_heartbeat >= :t ON CONFLICT DO NOTHING")
                .param("r", roundId).param("v", version).param("f", java.util.UUID.fromString(federationId))
                .param("t", java.sql.Timestamp.from(aliveSince)).update();
    }

    public long pending(long roundId) {
        return jdbc.sql("SELECT count(*) FROM evaluations WHERE round_id = :r AND status = 'PENDING'")
                .param("r", roundId).query(Long.class).single();
    }

    /** Example-weighted loss and accuracy over the reports of an attempt. */
    public record Summary(long examples, Double loss, Double accuracy) {}

    public Summary summary(long roundId) {
        return jdbc.sql("""
                SELECT COALESCE(sum(num_examples), 0),
                       sum(loss * num_examples) / NULLIF(sum(num_examples), 0),
                       sum(accuracy * num_examples) / NULLIF(sum(num_examples), 0)
                FROM evaluations WHERE round_id = :r AND status = 'REPORTED'""")
                .param("r", roundId)
                .query((rs, n) -> new Summary(rs.getLong(1), (Double) rs.getObject(2), (Double) rs.getObject(3)))
                .single();
    }

    /** Per-client evaluation results of an attempt, by client id. */
    public List<Map<String, Object>> results(long roundId) {
        return jdbc.sql("SELECT client_id::text AS client_id, status, num_examples, loss, accuracy FROM evaluations WHERE round_id = :r")
                .param("r", roundId).query().listOfRows();
    }
}
