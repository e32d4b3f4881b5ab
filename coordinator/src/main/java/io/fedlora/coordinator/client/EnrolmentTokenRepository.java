package io.fedlora.coordinator.client;

import io.fedlora.coordinator.config.Rows;
import java.time.Instant;
import java.util.Optional;
import java.util.UUID;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/** The {@code enrolment_tokens} table; only token hashes are stored. */
@Repository
public class EnrolmentTokenRepository {

    /** A token usable for enrolment. */
    public record UsableToken(String id, String federationId) {}

    private final JdbcClient jdbc;

    public EnrolmentTokenRepository(JdbcClient jdbc) {
        this.jdbc = jdbc;
    }

    public void insert(String id, String federationId, String hash, Instant expiresAt) {
        jdbc.sql("INSERT INTO enrolment_tokens (id, federation_id, token_hash, expires_at) VALUES (:id, :f, :h, :e)")
                .param("id", UUID.fromString(id)).param("f", UUID.fromString(federationId)).param("h", hash)
                .param("e", java.sql.Timestamp.from(expiresAt)).update();
    }

    /** Locks an unused, unrevoked token by hash, unexpired at {@code now}, for the enrolment transaction. */
    public Optional<UsableToken> lockUsable(String hash, Instant now) {
        return jdbc.sql("SELECT id::text, federation_id::text FROM enrolment_tokens WHERE token_hash = :h AND used_at IS NULL"
                        + " AND revoked_at IS NULL AND expires_at > :now FOR UPDATE")
                .param("h", hash).param("now", java.sql.Timestamp.from(now)).query((rs, n) -> new UsableToken(rs.getString(1), rs.getString(2))).optional();
    }

    /** A used token and the client its enrolment created. */
    public record UsedToken(String id, String federationId, String clientId) {}

    /**
     * Locks a used, unrevoked token by hash, unexpired at {@code now}: an agent whose Enrol response was lost
     * retries with it.
     */
    public Optional<UsedToken> lockUsed(String hash, Instant now) {
        return jdbc.sql("SELECT id::text, federation_id::text, used_by::text FROM enrolment_tokens WHERE token_hash = :h"
                        + " AND used_at IS NOT NULL AND revoked_at IS NULL AND expires_at > :now FOR UPDATE")
                .param("h", hash).param("now", java.sql.Timestamp.from(now))
                .query((rs, n) -> new UsedToken(rs.getString(1), rs.getString(2), rs.getString(3))).optional();
    }

    public void consume(String id, String clientId) {
        jdbc.sql("UPDATE enrolment_tokens SET used_at = now(), used_by = :c WHERE id = :id AND used_at IS NULL")
                .param("c", UUID.fromString(clientId)).param("id", UUID.fromString(id)).update();
    }

    /** Revokes an unused token; the federation id if it did, empty if there is no such unused token. */
    public Optional<String> revoke(String id) {
        UUID u = Rows.uuid(id);
        if (u == null) {
            return Optional.empty();
        }
        return jdbc.sql("UPDATE enrolment_tokens SET revoked_at = now() WHERE id = :id AND revoked_at IS NULL"
                        + " AND used_at IS NULL RETURNING federation_id::text")
                .param("id", u).query(String.class).optional();
    }
}
