package io.fedlora.coordinator.round;

import io.fedlora.coordinator.config.JsonColumns;
import io.fedlora.coordinator.config.Rows;
import java.util.Optional;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/** The {@code round_metrics} table. */
@Repository
public class RoundMetricsRepository {

    private final JdbcClient jdbc;
    private final JsonColumns json;

    public RoundMetricsRepository(JdbcClient jdbc, JsonColumns json) {
        this.jdbc = jdbc;
        this.json = json;
    }

    /** Writes the aggregation figures (keeps evaluation figures if the row exists). */
    public void upsertAggregation(RoundMetrics m) {
        jdbc.sql("""
                INSERT INTO round_metrics (round_id, num_clients, total_examples, exactness_rel_error, fedavg_deviation_rel,
                  per_layer, aggregate_ms, bytes_up, train_loss)
                VALUES (:r, :n, :ex, :err, :dev, :pl::jsonb, :ms, :up, :loss)
                ON CONFLICT (round_id) DO UPDATE SET num_clients = EXCLUDED.num_clients,
                  total_examples = EXCLUDED.total_examples, exactness_rel_error = EXCLUDED.exactness_rel_error,
                  fedavg_deviation_rel = EXCLUDED.fedavg_deviation_rel, per_layer = EXCLUDED.per_layer,
                  aggregate_ms = EXCLUDED.aggregate_ms, bytes_up = EXCLUDED.bytes_up, train_loss = EXCLUDED.train_loss""")
                .param("r", m.roundId()).param("n", m.numClients()).param("ex", m.totalExamples())
                .param("err", m.exactnessRelError()).param("dev", m.fedavgDeviationRel())
                .param("pl", json.write(m.perLayer())).param("ms", m.aggregateMs()).param("up", m.bytesUp())
                .param("loss", m.trainLoss())
                .update();
    }

    public void setEvaluation(long roundId, EvaluationRepository.Summary s) {
        jdbc.sql("""
                INSERT INTO round_metrics (round_id, num_clients, total_examples, eval_loss, eval_accuracy, eval_examples)
                VALUES (:r, 0, 0, :l, :a, :n)
                ON CONFLICT (round_id) DO UPDATE SET eval_loss = EXCLUDED.eval_loss, eval_accuracy = EXCLUDED.eval_accuracy,
                  eval_examples = EXCLUDED.eval_examples""")
                .param("r", roundId).param("l", s.loss()).param("a", s.accuracy()).param("n", s.examples())
                .update();
    }

    public Optional<RoundMetrics> find(long roundId) {
        return jdbc.sql("SELECT round_id, num_clients, total_examples, exactness_rel_error, fedavg_deviation_rel,"
                        + " per_layer::text AS per_layer, aggregate_ms, bytes_up, train_loss, eval_loss, eval_accuracy,"
                        + " eval_examples FROM round_metrics WHERE round_id = :r")
                .param("r", roundId)
                .query((rs, n) -> new RoundMetrics(rs.getLong("round_id"), rs.getInt("num_clients"),
                        rs.getLong("total_examples"), Rows.nullableDouble(rs, "exactness_rel_error"),
                        Rows.nullableDouble(rs, "fedavg_deviation_rel"), json.readMap(rs.getString("per_layer")),
                        Rows.nullableLong(rs, "aggregate_ms"), rs.getLong("bytes_up"), Rows.nullableDouble(rs, "train_loss"),
                        Rows.nullableDouble(rs, "eval_loss"), Rows.nullableDouble(rs, "eval_accuracy"),
                        Rows.nullableLong(rs, "eval_examples")))
                .optional();
    }
}
