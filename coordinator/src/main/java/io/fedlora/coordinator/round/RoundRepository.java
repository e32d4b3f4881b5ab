package io.fedlora.coordinator.round;

import io.fedlora.coordinator.config.Rows;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/** The {@code rounds} table: one row per attempt; transitions are optimistic on the current status. */
@Repository
public class RoundRepository {

    private static final String COLUMNS = "id, federation_id::text AS federation_id, number, attempt, status, base_version,"
            + " deadline, eval_deadline, reason, bytes_down, created_at, started_at, collecting_at, aggregating_at,"
            + " evaluating_at, ended_at";
    private static final String LIVE = "('SELECTING','COLLECTING','AGGREGATING','EVALUATING')";

    private final JdbcClient jdbc;

    public RoundRepository(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    public long insert(String federationId, int number, int attempt, RoundStatus status, long baseVersion) {
        return jdbc.sql("INSERT INTO rounds (federation_id, number, attempt, status, base_version, started_at)"
                        + " VALUES (:f, :n, :a, :s, :v, now()) RETURNING id")
                .param("f", UUID.fromString(federationId)).param("n", number).param("a", attempt)
                .param("s", status.name()).param("v", baseVersion)
                .query(Long.class).single();
    }

    public Optional<RoundRecord> find(long id) {
        return jdbc.sql("SELECT " + COLUMNS + " FROM rounds WHERE id = :id").param("id", id).query(this::map).optional();
    }

    /** The attempt in progress, if any. */
    public Optional<RoundRecord> live(String federationId) {
        return jdbc.sql("SELECT " + COLUMNS + " FROM rounds WHERE federation_id = :f AND status IN " + LIVE
                        + " ORDER BY number DESC, attempt DESC LIMIT 1")
                .param("f", UUID.fromString(federationId)).query(this::map).optional();
    }

    /** The newest attempt of the highest round number started so far. */
    public Optional<RoundRecord> latest(String federationId) {
        return jdbc.sql("SELECT " + COLUMNS + " FROM rounds WHERE federation_id = :f ORDER BY number DESC, attempt DESC LIMIT 1")
                .param("f", UUID.fromString(federationId)).query(this::map).optional();
    }

    /** The attempt of round {@code number} that is live or published (at most one, by a unique index). */
    public Optional<RoundRecord> current(String federationId, int number) {
        UUID f = Rows.uuid(federationId);
        if (f == null) {
            return Optional.empty();
        }
        return jdbc.sql("SELECT " + COLUMNS + " FROM rounds WHERE federation_id = :f AND number = :n"
                        + " AND status NOT IN ('RETRIED','FAILED','CANCELLED')")
                .param("f", f).param("n", number).query(this::map).optional();
    }

    /** Locks a round row for the rest of the transaction. */
    public Optional<RoundRecord> lock(long id) {
        return jdbc.sql("SELECT " + COLUMNS + " FROM rounds WHERE id = :id FOR UPDATE").param("id", id).query(this::map).optional();
    }

    public List<RoundRecord> list(String federationId) {
        return jdbc.sql("SELECT " + COLUMNS + " FROM rounds WHERE federation_id = :f ORDER BY number, attempt")
                .param("f", UUID.fromString(federationId)).query(this::map).list();
    }

    /** Moves an attempt from {@code from} to {@code to}, stamping the matching timing column; false if it had moved on. */
    public boolean transition(long id, RoundStatus from, RoundStatus to, String reason) {
        String stamp = switch (to) {
            case COLLECTING -> ", collecting_at = now()";
            case AGGREGATING -> ", aggregating_at = now()";
            case EVALUATING -> ", evaluating_at = now()";
            default -> ", ended_at = now()";
        };
        return jdbc.sql("UPDATE rounds SET status = :to, reason = COALESCE(:reason, reason)" + stamp
                        + " WHERE id = :id AND status = :from")
                .param("to", to.name()).param("reason", reason).param("id", id).param("from", from.name())
                .update() == 1;
    }

    /** Sets or clears the reason of a round still evaluating; true when it changed. */
    public boolean noteEvaluating(long id, String reason) {
        return jdbc.sql("UPDATE rounds SET reason = :r WHERE id = :id AND status = 'EVALUATING' AND reason IS DISTINCT FROM :r")
                .param("r", reason).param("id", id).update() == 1;
    }

    /** Sets or clears the reason of a round still selecting; true when it changed. */
    public boolean noteSelecting(long id, String reason) {
        return jdbc.sql("UPDATE rounds SET reason = :r WHERE id = :id AND status = 'SELECTING' AND reason IS DISTINCT FROM :r")
                .param("r", reason).param("id", id).update() == 1;
    }

    public void setDeadline(long id, Instant deadline) {
        jdbc.sql("UPDATE rounds SET deadline = :d WHERE id = :id").param("d", java.sql.Timestamp.from(deadline)).param("id", id).update();
    }

    public void setEvalDeadline(long id, Instant deadline) {
        jdbc.sql("UPDATE rounds SET eval_deadline = :d WHERE id = :id").param("d", java.sql.Timestamp.from(deadline)).param("id", id).update();
    }

    public void cancelLive(String federationId, String reason) {
        jdbc.sql("UPDATE rounds SET status = 'CANCELLED', reason = :r, ended_at = now() WHERE federation_id = :f AND status IN " + LIVE)
                .param("r", reason).param("f", UUID.fromString(federationId)).update();
    }

    /** After a pause, clients get a full deadline again for the round in progress. */
    public void extendLiveDeadlines(String federationId, int seconds) {
        // a deadline not set yet stays unset (GREATEST ignores NULL, which would invent one)
        jdbc.sql("UPDATE rounds SET deadline = CASE WHEN deadline IS NULL THEN NULL"
                        + " ELSE GREATEST(deadline, now() + make_interval(secs => :s)) END,"
                        + " eval_deadline = CASE WHEN eval_deadline IS NULL THEN NULL"
                        + " ELSE GREATEST(eval_deadline, now() + make_interval(secs => :s)) END"
                        + " WHERE federation_id = :f AND status IN " + LIVE)
                .param("s", seconds).param("f", UUID.fromString(federationId)).update();
    }

    public void addBytesDown(long id, long bytes) {
        jdbc.sql("UPDATE rounds SET bytes_down = bytes_down + :b WHERE id = :id").param("b", bytes).param("id", id).update();
    }

    private RoundRecord map(ResultSet rs, int row) throws SQLException {
        return new RoundRecord(rs.getLong("id"), rs.getString("federation_id"), rs.getInt("number"), rs.getInt("attempt"),
                RoundStatus.valueOf(rs.getString("status")), rs.getLong("base_version"), Rows.instant(rs, "deadline"),
                Rows.instant(rs, "eval_deadline"), rs.getString("reason"), rs.getLong("bytes_down"),
                Rows.instant(rs, "created_at"), Rows.instant(rs, "started_at"), Rows.instant(rs, "collecting_at"),
                Rows.instant(rs, "aggregating_at"), Rows.instant(rs, "evaluating_at"), Rows.instant(rs, "ended_at"));
    }
}
