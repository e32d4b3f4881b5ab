package io.fedlora.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Supplier;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.fedlora.demo.admin.AdminClient;
import io.fedlora.demo.admin.FederationView;
import io.fedlora.it.support.EnvironmentExtension;
import io.fedlora.it.support.FederationEnvironment;
import io.fedlora.it.support.RawFederationClient;
import io.fedlora.it.support.TestFederations;
import io.fedlora.it.support.UpdateBuilder;
import io.fedlora.proto.v1.EnrolResponse;
import io.fedlora.proto.v1.TaskKind;
import io.fedlora.proto.v1.TaskResponse;
import io.fedlora.proto.v1.UpdateChunk;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/**
 * Malformed and unauthorised uploads sent with a bare gRPC client to a coordinator running as its own
 * process: each is refused with its status and a reason, and nothing stored changes (no update rows,
 * no new model version, the round still collecting). A well-formed upload afterwards is accepted.
 */
@Tag("e2e")
@ExtendWith(EnvironmentExtension.class)
class BadInputOverTheWireTest {

    @Test
    @Timeout(value = 5, unit = java.util.concurrent.TimeUnit.MINUTES)
    void everyBadUploadIsRefusedAndChangesNothing(FederationEnvironment env) throws Exception {
        FederationEnvironment.Coordinator coordinator = env.sharedCoordinator();
        AdminClient admin = env.admin(coordinator);
        FederationView federation = admin.createFederation(TestFederations.spec("fedex", 1, 2, 2, 600, false, env.modelDir()));
        String id = federation.id();
        UUID fid = UUID.fromString(id);
        List<String> tokens = admin.issueEnrolmentTokens(id, 4, 600);

        try (RawFederationClient wire = new RawFederationClient(coordinator.process().grpcAddress())) {
            expectEnrolRefused(wire, "not-a-token", "intruder");
            EnrolResponse selected = wire.enrol(tokens.get(0), "raw-a");
            expectEnrolRefused(wire, tokens.get(0), "raw-a-again");
            EnrolResponse revoked = wire.enrol(tokens.get(1), "raw-b");
            // a lost Enrol response: the retry with the same token and name gets the same client, a new credential
            EnrolResponse lost = wire.enrol(tokens.get(3), "raw-retry");
            EnrolResponse retried = wire.enrol(tokens.get(3), "raw-retry");
            assertThat(retried.getClientId()).isEqualTo(lost.getClientId());
            assertThat(retried.getCredential()).isNotEqualTo(lost.getCredential());
            assertThatThrownBy(() -> wire.task(lost.getCredential(), 0)).isInstanceOfSatisfying(StatusRuntimeException.class,
                    e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED));
            expectEnrolRefused(wire, tokens.get(3), "raw-retry-other-name");
            admin.start(id);
            TaskResponse task = awaitTrainTask(wire, selected.getCredential());
            assertThat(task.getExpectedUpdateCount()).isPositive();
            EnrolResponse late = wire.enrol(tokens.get(2), "raw-late");
            admin.revokeClient(revoked.getClientId());

            Supplier<UpdateBuilder> update = () -> new UpdateBuilder(task, 1);
            String cred = selected.getCredential();
            Map<String, Object> before = state(coordinator, fid);

            expectRefused(wire, null, update.get().chunks(),
                    Status.Code.UNAUTHENTICATED, "authorization", coordinator, fid, before);
            expectRefused(wire, "bogus-credential", update.get().chunks(),
                    Status.Code.UNAUTHENTICATED, "unknown credential", coordinator, fid, before);
            expectRefused(wire, revoked.getCredential(), update.get().chunks(),
                    Status.Code.PERMISSION_DENIED, "revoked", coordinator, fid, before);
            expectRefused(wire, late.getCredential(), update.get().chunks(),
                    Status.Code.PERMISSION_DENIED, "not selected", coordinator, fid, before);
            expectRefused(wire, cred, update.get().round(task.getRound() + 5).chunks(),
                    Status.Code.NOT_FOUND, "round " + (task.getRound() + 5), coordinator, fid, before);
            expectRefused(wire, cred, update.get().transposeFirstShape().chunks(),
                    Status.Code.INVALID_ARGUMENT, "shape", coordinator, fid, before);
            expectRefused(wire, cred, update.get().firstValue(Float.NaN).chunks(),
                    Status.Code.INVALID_ARGUMENT, "NaN", coordinator, fid, before);
            UpdateBuilder huge = update.get();
            huge.scale((float) (2 * task.getMaxUpdateNorm() / huge.maxTensorNorm()));
            expectRefused(wire, cred, huge.chunks(), Status.Code.INVALID_ARGUMENT, "norm", coordinator, fid, before);
            expectRefused(wire, cred, update.get().corruptFirstChecksum().chunks(),
                    Status.Code.INVALID_ARGUMENT, "sha256", coordinator, fid, before);
            expectRefused(wire, cred, update.get().garbageInFirstChunk().chunks(),
                    Status.Code.INVALID_ARGUMENT, "sha256", coordinator, fid, before);
            expectRefused(wire, cred, update.get().chunkForUnknownTensor().chunks(),
                    Status.Code.INVALID_ARGUMENT, "tensor_index", coordinator, fid, before);
            expectRefused(wire, cred, update.get().numExamples(Long.MAX_VALUE).chunks(),
                    Status.Code.INVALID_ARGUMENT, "maxExamplesPerUpdate", coordinator, fid, before);
            expectRefused(wire, cred, update.get().numExamples(1_000_000_000_000_000L).chunks(),
                    Status.Code.INVALID_ARGUMENT, "maxExamplesPerUpdate", coordinator, fid, before);
            // one above the federation's bound (the default, 10,000,000)
            expectRefused(wire, cred, update.get().numExamples(10_000_001L).chunks(),
                    Status.Code.INVALID_ARGUMENT, "maxExamplesPerUpdate", coordinator, fid, before);
            // bytes that are not an UpdateChunk at all (garbage after a valid header, a truncated message)
            byte[] headerFrame = update.get().chunks().get(0).toByteArray();
            Status garbage = wire.uploadRawFrames(cred, List.of(headerFrame,
                    new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x0f, 0x01}));
            assertThat(garbage.getCode()).as(garbage.toString()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(garbage.getDescription()).contains("not a valid message");
            Status truncated = wire.uploadRawFrames(cred, List.of(java.util.Arrays.copyOf(headerFrame, headerFrame.length / 2)));
            assertThat(truncated.getCode()).as(truncated.toString()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(state(coordinator, fid)).as("stored state after garbage frames").isEqualTo(before);
            List<UpdateChunk> headerOnly = update.get().chunks().subList(0, 1);
            expectRefused(wire, cred, headerOnly, Status.Code.INVALID_ARGUMENT, "trailer", coordinator, fid, before);

            // the same client, same round, well-formed: accepted once, and a retry is a duplicate
            List<UpdateChunk> good = update.get().uploadId("good-1").chunks();
            assertThat(wire.upload(cred, good).getDuplicate()).isFalse();
            assertThat(wire.upload(cred, good).getDuplicate()).isTrue();
            assertThat(coordinator.database().count(
                    "SELECT count(*) FROM updates u JOIN rounds r ON r.id = u.round_id WHERE r.federation_id = ?", fid))
                    .isEqualTo(1);
        } finally {
            admin.cancel(id);
        }
    }

    private static TaskResponse awaitTrainTask(RawFederationClient wire, String credential) {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < deadline) {
            TaskResponse task = wire.task(credential, 2000);
            if (task.getKind() == TaskKind.TRAIN) {
                return task;
            }
        }
        throw new AssertionError("no TRAIN task within 60 s");
    }

    /** An enrolment with an unknown or already used token is refused and names the token as the reason. */
    private static void expectEnrolRefused(RawFederationClient wire, String token, String name) {
        assertThatThrownBy(() -> wire.enrol(token, name))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).as(e.getStatus().toString()).isEqualTo(Status.Code.UNAUTHENTICATED);
                    assertThat(e.getStatus().getDescription()).contains("enrolment token");
                });
    }

    /** The upload is refused with {@code code} and a reason naming {@code reason}, and nothing stored changed. */
    private static void expectRefused(RawFederationClient wire, String credential, List<UpdateChunk> chunks,
                                      Status.Code code, String reason, FederationEnvironment.Coordinator coordinator,
                                      UUID fid, Map<String, Object> before) {
        assertThatThrownBy(() -> wire.upload(credential, chunks))
                .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                    assertThat(e.getStatus().getCode()).as(e.getStatus().toString()).isEqualTo(code);
                    assertThat(e.getStatus().getDescription()).as("a reason the agent can log").contains(reason);
                });
        assertThat(state(coordinator, fid)).as("stored state after a refused upload").isEqualTo(before);
    }

    private static Map<String, Object> state(FederationEnvironment.Coordinator coordinator, UUID fid) {
        return coordinator.database().query("""
                SELECT f.status AS federation,
                       (SELECT count(*) FROM updates u JOIN rounds r ON r.id = u.round_id WHERE r.federation_id = f.id) AS updates,
                       (SELECT count(*) FROM model_versions m WHERE m.federation_id = f.id) AS versions,
                       (SELECT string_agg(m.adapter_blob || m.weights_blob, ',' ORDER BY m.version) FROM model_versions m
                         WHERE m.federation_id = f.id) AS blobs,
                       (SELECT string_agg(r.number || ':' || r.status, ',' ORDER BY r.id) FROM rounds r
                         WHERE r.federation_id = f.id) AS rounds
                FROM federations f WHERE f.id = ?""", fid).get(0);
    }
}
