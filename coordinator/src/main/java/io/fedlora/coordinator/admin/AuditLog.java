package io.fedlora.coordinator.admin;

import io.fedlora.coordinator.config.JsonColumns;
import java.util.Map;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/** Append-only record of admin actions ({@code audit_log}); written in the action's own transaction. */
@Repository
public class AuditLog {

    private final JdbcClient jdbc;
    private final JsonColumns json;

    public AuditLog(JdbcClient jdbc, JsonColumns json) {
        this.jdbc = jdbc;
        this.json = json;
    }

    public void record(String actor, String action, String federationId, String target, Map<String, ?> details) {
        jdbc.sql("INSERT INTO audit_log (actor, action, federation_id, target, details) VALUES (:a, :act, :f, :t, :d::jsonb)")
                .param("a", actor)
                .param("act", action)
                .param("f", federationId == null ? null : UUID.fromString(federationId))
                .param("t", target)
                .param("d", json.write(details))
                .update();
    }

    /** Entries newest first, for the admin API. */
    public java.util.List<AuditEntry> recent(int limit) {
        return jdbc.sql("SELECT id, at, actor, action, federation_id::text, target, details::text FROM audit_log ORDER BY id DESC LIMIT :l")
                .param("l", limit)
                .query((rs, n) -> new AuditEntry(rs.getLong(1), rs.getTimestamp(2).toInstant(), rs.getString(3),
                        rs.getString(4), rs.getString(5), rs.getString(6), json.readMap(rs.getString(7))))
                .list();
    }

    /** One audit entry. */
    public record AuditEntry(long id, java.time.Instant at, String actor, String action, String federationId,
            String target, Map<String, Object> details) {}
}
