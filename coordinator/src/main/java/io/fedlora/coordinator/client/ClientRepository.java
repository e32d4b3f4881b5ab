package io.fedlora.coordinator.client;

import io.fedlora.coordinator.config.JsonColumns;
import io.fedlora.coordinator.config.Rows;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Repository;

/**
 * The {@code clients} table. Credential holders are remembered (see {@link CredentialCache}) and re-read in batches
 * ahead of expiry by a daemon thread every {@code ttl / 6}.
 */
@Repository
public class ClientRepository implements DisposableBean {

    private static final Logger log = LoggerFactory.getLogger(ClientRepository.class);
    private static final String HOLDER = "id::text AS id, name, federation_id::text AS federation_id, revoked_at";
    private static final int REFRESH_BATCH = 500;

    private static final String COLUMNS = "id::text AS id, federation_id::text AS federation_id, name, labels::text AS labels,"
            + " enrolled_at, revoked_at, last_heartbeat, state, device, cached_model_version";

    private final JdbcClient jdbc;
    private final JsonColumns json;
    private final CredentialCache credentials = new CredentialCache();
    private final ScheduledExecutorService refresher;

    public ClientRepository(JdbcClient jdbc, JsonColumns json) {
        this.jdbc = jdbc;
        this.json = json;
        this.refresher = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "fedlora-credential-refresh");
            t.setDaemon(true);
            return t;
        });
        long every = CredentialCache.TTL_NANOS / 6;
        refresher.scheduleWithFixedDelay(this::refreshCredentials, every, every, TimeUnit.NANOSECONDS);
    }

    public void insert(String id, String federationId, String name, Map<String, String> labels, String credentialHash) {
        jdbc.sql("INSERT INTO clients (id, federation_id, name, labels, credential_hash, last_heartbeat)"
                        + " VALUES (:id, :f, :n, :l::jsonb, :h, now())")
                .param("id", UUID.fromString(id)).param("f", UUID.fromString(federationId)).param("n", name)
                .param("l", json.write(labels)).param("h", credentialHash).update();
        // its first call (a heartbeat, right after the answer) then needs no connection
        credentials.remember(credentialHash, new CredentialHolder(id, name, federationId, null));
    }

    public Optional<ClientRecord> find(String id) {
        UUID u = Rows.uuid(id);
        if (u == null) {
            return Optional.empty();
        }
        return jdbc.sql("SELECT " + COLUMNS + " FROM clients WHERE id = :id").param("id", u).query(this::map).optional();
    }

    /** The client holding this credential (remembered briefly: see {@link CredentialCache}). */
    public Optional<CredentialHolder> byCredentialHash(String hash) {
        return credentials.get(hash, this::loadByCredentialHash);
    }

    private Optional<CredentialHolder> loadByCredentialHash(String hash) {
        return jdbc.sql("SELECT " + HOLDER + " FROM clients WHERE credential_hash = :h").param("h", hash)
                .query(ClientRepository::holder).optional();
    }

    private Map<String, CredentialHolder> loadByCredentialHashes(Collection<String> hashes) {
        Map<String, CredentialHolder> found = new HashMap<>();
        jdbc.sql("SELECT credential_hash, " + HOLDER + " FROM clients WHERE credential_hash IN (:hs)")
                .param("hs", List.copyOf(hashes))
                .query((rs, row) -> found.put(rs.getString("credential_hash"), holder(rs, row))).list();
        return found;
    }

    /** Re-reads the remembered credentials that are past half their life (see {@link CredentialCache}). */
    void refreshCredentials() {
        try {
            credentials.refreshAhead(this::loadByCredentialHashes, REFRESH_BATCH);
        } catch (RuntimeException e) {
            log.warn("re-reading remembered credentials failed; they are read again when they expire: {}", e.toString());
        }
    }

    private static CredentialHolder holder(ResultSet rs, int row) throws SQLException {
        return new CredentialHolder(rs.getString("id"), rs.getString("name"), rs.getString("federation_id"),
                Rows.instant(rs, "revoked_at"));
    }

    public boolean nameTaken(String federationId, String name) {
        return jdbc.sql("SELECT count(*) FROM clients WHERE federation_id = :f AND name = :n")
                .param("f", UUID.fromString(federationId)).param("n", name).query(Long.class).single() > 0;
    }

    public List<ClientRecord> list(String federationId) {
        return jdbc.sql("SELECT " + COLUMNS + " FROM clients WHERE federation_id = :f ORDER BY enrolled_at, name")
                .param("f", UUID.fromString(federationId)).query(this::map).list();
    }

    /** Clients that may be selected: not revoked, heard from since {@code aliveSince}; ordered by id. */
    public List<String> eligible(String federationId, Instant aliveSince) {
        return jdbc.sql("SELECT id::text FROM clients WHERE federation_id = :f AND revoked_at IS NULL"
                        + " AND last_heartbeat >= :t ORDER BY id")
                .param("f", UUID.fromString(federationId)).param("t", java.sql.Timestamp.from(aliveSince))
                .query(String.class).list();
    }

    /**
     * Replaces the credential of a client that has not called in since it enrolled (its last heartbeat is still
     * the enrolment's); false if it has, or is revoked. The earlier credential stops working.
     */
    public boolean rotateUnusedCredential(String id, String credentialHash) {
        credentials.forget(id);
        return jdbc.sql("UPDATE clients SET credential_hash = :h WHERE id = :id AND revoked_at IS NULL"
                        + " AND last_heartbeat = enrolled_at")
                .param("h", credentialHash).param("id", UUID.fromString(id)).update() == 1;
    }

    public boolean revoke(String id) {
        credentials.forget(id);
        return jdbc.sql("UPDATE clients SET revoked_at = now() WHERE id = :id AND revoked_at IS NULL")
                .param("id", UUID.fromString(id)).update() == 1;
    }

    @Override
    public void destroy() {
        refresher.shutdownNow();
    }

    private ClientRecord map(ResultSet rs, int row) throws SQLException {
        return new ClientRecord(rs.getString("id"), rs.getString("federation_id"), rs.getString("name"),
                json.readMap(rs.getString("labels")), Rows.instant(rs, "enrolled_at"), Rows.instant(rs, "revoked_at"),
                Rows.instant(rs, "last_heartbeat"), rs.getString("state"), rs.getString("device"),
                Rows.nullableLong(rs, "cached_model_version"));
    }
}
