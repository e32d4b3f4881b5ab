package io.fedlora.coordinator.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fedlora.coordinator.clientapi.ClientTask;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.support.CoordinatorTestBase;
import io.fedlora.coordinator.support.SimulatedClient;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.dao.DataAccessException;

/** The migrations apply, and the schema itself refuses what the Java code must never write. */
class SchemaTest extends CoordinatorTestBase {

    @Test
    void migrationsCreateEveryTable() {
        List<String> tables = jdbc.sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
                .query(String.class).list();
        assertThat(tables).contains("federations", "federation_files", "enrolment_tokens", "clients", "rounds",
                "round_participants", "updates", "model_versions", "round_metrics", "evaluations", "audit_log", "blobs",
                "flyway_schema_history", "base_models", "base_model_files");
    }

    @Test
    void constraintsRejectDuplicatesBadStatesAndEdits() {
        Federation f = createAndStart(spec(uniqueName("schema"), 1, 2, 2, 60, 0, false, "fedex"));
        List<SimulatedClient> clients = enrol(f, 10, 10);
        SimulatedClient c = clients.get(0);
        c.upload(c.prepare(c.awaitTask(ClientTask.Kind.TRAIN, Duration.ofSeconds(10))));
        String fid = f.id();

        assertThatThrownBy(() -> jdbc.sql("INSERT INTO model_versions (federation_id, version, adapter_blob, weights_blob, residual_kind)"
                        + " SELECT federation_id, version, adapter_blob, weights_blob, residual_kind FROM model_versions WHERE federation_id = :f::uuid")
                .param("f", fid).update()).as("one row per (federation, version)").isInstanceOf(DataAccessException.class);
        assertThatThrownBy(() -> jdbc.sql("UPDATE model_versions SET residual_kind = 'NONE' WHERE federation_id = :f::uuid")
                .param("f", fid).update()).as("versions are immutable").hasMessageContaining("immutable");
        assertThatThrownBy(() -> jdbc.sql("UPDATE federations SET status = 'BOGUS' WHERE id = :f::uuid").param("f", fid).update())
                .isInstanceOf(DataAccessException.class);
        assertThatThrownBy(() -> jdbc.sql("INSERT INTO updates (id, round_id, client_id, upload_id, blob_sha256, num_examples,"
                        + " base_model_version, bytes_received, status) SELECT gen_random_uuid(), round_id, client_id, 'another',"
                        + " blob_sha256, num_examples, base_model_version, bytes_received, 'ACCEPTED' FROM updates WHERE client_id = :c::uuid")
                .param("c", c.id()).update()).as("one accepted update per client per round").isInstanceOf(DataAccessException.class);
        assertThatThrownBy(() -> jdbc.sql("INSERT INTO updates (id, round_id, client_id, upload_id, blob_sha256, num_examples,"
                        + " base_model_version, bytes_received, status) SELECT gen_random_uuid(), round_id, client_id, upload_id,"
                        + " blob_sha256, num_examples, base_model_version, bytes_received, 'DISCARDED' FROM updates WHERE client_id = :c::uuid")
                .param("c", c.id()).update()).as("upload ids are unique per client and round").isInstanceOf(DataAccessException.class);
        assertThatThrownBy(() -> jdbc.sql("UPDATE updates SET num_examples = 0 WHERE client_id = :c::uuid").param("c", c.id()).update())
                .isInstanceOf(DataAccessException.class);
        assertThatThrownBy(() -> jdbc.sql("INSERT INTO rounds (federation_id, number, attempt, status, base_version)"
                        + " VALUES (:f::uuid, 1, 9, 'SELECTING', 0)").param("f", fid).update())
                .as("only one live attempt per round").isInstanceOf(DataAccessException.class);
        assertThatThrownBy(() -> jdbc.sql("INSERT INTO clients (id, federation_id, name, credential_hash) VALUES"
                        + " (gen_random_uuid(), gen_random_uuid(), 'x', repeat('a', 64))").update())
                .as("foreign keys").isInstanceOf(DataAccessException.class);
        assertThatThrownBy(() -> jdbc.sql("UPDATE federations SET base_model_path = NULL WHERE id = :f::uuid").param("f", fid).update())
                .as("a federation names its base model by path or by registered name").isInstanceOf(DataAccessException.class);
    }
}
