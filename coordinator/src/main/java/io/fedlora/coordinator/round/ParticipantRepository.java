package io.fedlora.coordinator.round;

import io.fedlora.coordinator.config.Rows;
import java.util.List;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/** The {@code round_participants} table. */
@Repository
public class ParticipantRepository {

    private final JdbcClient jdbc;

    public ParticipantRepository(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    public void select(long roundId, String clientId) {
        jdbc.sql("INSERT INTO round_participants (round_id, client_id, status) VALUES (:r, :c, 'SELECTED')")
                .param("r", roundId).param("c", UUID.fromString(clientId)).update();
    }

    public List<Participant> list(long roundId) {
        return jdbc.sql("""
                SELECT p.round_id, p.client_id::text AS client_id, c.name, p.status, p.selected_at, p.reported_at
                FROM round_participants p JOIN clients c ON c.id = p.client_id WHERE p.round_id = :r ORDER BY c.name""")
                .param("r", roundId)
                .query((rs, n) -> new Participant(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getString(4),
                        Rows.instant(rs, "selected_at"), Rows.instant(rs, "reported_at")))
                .list();
    }

    /** The participant's status, or null if the client was not selected for this attempt. */
    public String status(long roundId, String clientId) {
        return jdbc.sql("SELECT status FROM round_participants WHERE round_id = :r AND client_id = :c")
                .param("r", roundId).param("c", UUID.fromString(clientId)).query(String.class).optional().orElse(null);
    }

    public boolean markReported(long roundId, String clientId) {
        return jdbc.sql("UPDATE round_participants SET status = 'REPORTED', reported_at = now()"
                        + " WHERE round_id = :r AND client_id = :c AND status = 'SELECTED'")
                .param("r", roundId).param("c", UUID.fromString(clientId)).update() == 1;
    }

    /** Those who never reported, once the attempt stops collecting. */
    public void markMissed(long roundId) {
        jdbc.sql("UPDATE round_participants SET status = 'MISSED' WHERE round_id = :r AND status = 'SELECTED'")
                .param("r", roundId).update();
    }

    public record Counts(int selected, int reported) {}

    public Counts counts(long roundId) {
        return jdbc.sql("SELECT count(*), count(*) FILTER (WHERE status = 'REPORTED') FROM round_participants WHERE round_id = :r")
                .param("r", roundId).query((rs, n) -> new Counts(rs.getInt(1), rs.getInt(2))).single();
    }
}
