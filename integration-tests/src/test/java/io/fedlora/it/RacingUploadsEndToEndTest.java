package io.fedlora.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.fedlora.demo.admin.AdminClient;
import io.fedlora.demo.admin.FederationView;
import io.fedlora.it.support.BlobFiles;
import io.fedlora.it.support.EnvironmentExtension;
import io.fedlora.it.support.FederationEnvironment;
import io.fedlora.it.support.Hashes;
import io.fedlora.it.support.RawFederationClient;
import io.fedlora.it.support.RawFederationClient.Cut;
import io.fedlora.it.support.TestFederations;
import io.fedlora.it.support.UpdateBuilder;
import io.fedlora.proto.v1.EnrolResponse;
import io.fedlora.proto.v1.TaskKind;
import io.fedlora.proto.v1.TaskResponse;
import io.fedlora.proto.v1.UpdateChunk;
import io.fedlora.proto.v1.UploadReceipt;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/**
 * One client's uploads for one round, raced over their own loopback connections into a coordinator process: six
 * upload ids, each sent twice whole, once cut mid-stream and once dropped right after its trailer (receipt lost).
 * Exactly one update is stored and reported, every receipt names it, the agent's retries afterwards are a duplicate
 * of it or refused as already reported, and the blob store holds exactly its file: no orphan of a losing upload, no
 * file without its row, no temp file left behind.
 */
@Tag("e2e")
@ExtendWith(EnvironmentExtension.class)
class RacingUploadsEndToEndTest {

    private static final int UPLOAD_IDS = 6;

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void racingUploadsOfOneClientLeaveOneUpdateAndOnlyItsBlob(FederationEnvironment env) throws Exception {
        FederationEnvironment.Coordinator coordinator = env.sharedCoordinator();
        Path dataDir = coordinator.process().settings().dataDir();
        AdminClient admin = env.admin(coordinator);
        // two clients needed: the second never uploads, so the round stays open and nothing else is written
        FederationView federation = admin.createFederation(TestFederations.spec("fedex", 1, 2, 2, 600, false, env.modelDir()));
        String id = federation.id();
        UUID fid = UUID.fromString(id);
        List<String> tokens = admin.issueEnrolmentTokens(id, 2, 600);
        try (RawFederationClient wire = new RawFederationClient(coordinator.process().grpcAddress())) {
            EnrolResponse racer = wire.enrol(tokens.get(0), "racer");
            wire.enrol(tokens.get(1), "bystander");
            admin.start(id);
            TaskResponse task = awaitTrainTask(wire, racer.getCredential());
            String cred = racer.getCredential();

            Set<String> blobsBefore = BlobFiles.names(dataDir);
            Set<Path> tempsBefore = BlobFiles.temps(dataDir);
            List<Racer> racers = new ArrayList<>();
            for (int u = 0; u < UPLOAD_IDS; u++) {
                List<UpdateChunk> chunks = new UpdateBuilder(task, 600 + u).uploadId("race-" + u).chunks();
                for (Cut cut : List.of(Cut.MID_STREAM, Cut.AFTER_TRAILER, Cut.NONE, Cut.NONE)) {
                    racers.add(new Racer("race-" + u, chunks, cut));
                }
            }
            List<Object> outcomes = race(coordinator.process().grpcAddress(), cred, racers);

            List<String> rows = coordinator.database().query(
                            "SELECT u.id::text AS id FROM updates u JOIN rounds r ON r.id = u.round_id WHERE r.federation_id = ?",
                            fid).stream().map(r -> (String) r.get("id")).toList();
            assertThat(rows).as("update rows after the race; outcomes " + outcomes).hasSize(1);
            String winner = rows.get(0);
            List<UploadReceipt> receipts = outcomes.stream().filter(o -> o instanceof UploadReceipt)
                    .map(o -> (UploadReceipt) o).toList();
            assertThat(receipts).as("receipts").isNotEmpty().extracting(UploadReceipt::getUpdateId).containsOnly(winner);
            assertThat(receipts.stream().filter(r -> !r.getDuplicate()).count()).as("fresh receipts").isLessThanOrEqualTo(1);
            for (Object o : outcomes) {
                if (o instanceof Status s) {
                    assertThat(s.getCode()).as("a losing racer's refusal: " + s)
                            .isIn(Status.Code.ALREADY_EXISTS, Status.Code.CANCELLED);
                }
            }
            assertThat(coordinator.database().count("""
                    SELECT count(*) FROM round_participants p JOIN rounds r ON r.id = p.round_id
                    WHERE r.federation_id = ? AND p.status = 'REPORTED'""", fid)).as("reported participants").isEqualTo(1);

            // the agent's retries afterwards: the winner's upload id is a duplicate of it, every other id already reported
            String winnerUpload = (String) coordinator.database().query("SELECT upload_id FROM updates WHERE id = ?",
                    UUID.fromString(winner)).get(0).get("upload_id");
            for (int u = 0; u < UPLOAD_IDS; u++) {
                List<UpdateChunk> chunks = new UpdateBuilder(task, 600 + u).uploadId("race-" + u).chunks();
                if (("race-" + u).equals(winnerUpload)) {
                    UploadReceipt again = wire.upload(cred, chunks);
                    assertThat(again.getDuplicate()).isTrue();
                    assertThat(again.getUpdateId()).isEqualTo(winner);
                } else {
                    assertThatThrownBy(() -> wire.upload(cred, chunks)).isInstanceOfSatisfying(StatusRuntimeException.class,
                            e -> assertThat(e.getStatus().getCode()).as(e.getStatus().toString())
                                    .isEqualTo(Status.Code.ALREADY_EXISTS));
                }
            }

            String sha = (String) coordinator.database().query("SELECT blob_sha256 FROM updates WHERE id = ?",
                    UUID.fromString(winner)).get(0).get("blob_sha256");
            Set<String> written = new TreeSet<>(BlobFiles.names(dataDir));
            written.removeAll(blobsBefore);
            Set<String> ours = new TreeSet<>();
            for (String f : written) {
                if (racer.getClientId().equals(BlobFiles.metadata(BlobFiles.path(dataDir, f)).get("client"))) {
                    ours.add(f);
                }
            }
            assertThat(ours).as("blob files of the racing client's uploads (all new files: %s)", written).containsExactly(sha);
            Set<String> registered = new TreeSet<>(coordinator.database().query("SELECT sha256 FROM blobs").stream()
                    .map(r -> ((String) r.get("sha256")).strip()).toList());
            assertThat(written).as("new blob files without a row in blobs (orphans)").allMatch(registered::contains);
            assertThat(Hashes.sha256(java.nio.file.Files.readAllBytes(BlobFiles.path(dataDir, sha))))
                    .as("the winner's blob bytes").isEqualTo(sha);
            awaitNoNewTemps(dataDir, tempsBefore);
            System.out.printf("racing uploads: %d racers, winner %s (%s), %d fresh + %d duplicate receipts, refusals %s%n",
                    racers.size(), winnerUpload, winner, receipts.stream().filter(r -> !r.getDuplicate()).count(),
                    receipts.stream().filter(UploadReceipt::getDuplicate).count(),
                    outcomes.stream().filter(o -> o instanceof Status).map(o -> ((Status) o).getCode()).toList());
        } finally {
            admin.cancel(id);
        }
    }

    private record Racer(String uploadId, List<UpdateChunk> chunks, Cut cut) {
    }

    /** Every racer on its own connection with the client's credential, connected first, then released at once. */
    private static List<Object> race(String address, String credential, List<Racer> racers) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(racers.size());
        List<RawFederationClient> clients = new ArrayList<>();
        try {
            CountDownLatch ready = new CountDownLatch(racers.size());
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Object>> futures = new ArrayList<>();
            for (Racer r : racers) {
                RawFederationClient client = new RawFederationClient(address);
                clients.add(client);
                futures.add(pool.submit(() -> {
                    client.heartbeat(credential, "training"); // the connection is up before the start
                    ready.countDown();
                    go.await();
                    try {
                        return client.upload(credential, r.chunks(), r.cut());
                    } catch (StatusRuntimeException e) {
                        return e.getStatus();
                    }
                }));
            }
            assertThat(ready.await(60, TimeUnit.SECONDS)).as("racers connected").isTrue();
            go.countDown();
            List<Object> out = new ArrayList<>();
            for (Future<Object> f : futures) {
                out.add(f.get(90, TimeUnit.SECONDS));
            }
            return out;
        } finally {
            pool.shutdownNow();
            for (RawFederationClient c : clients) {
                c.close();
            }
        }
    }

    private static void awaitNoNewTemps(Path dataDir, Set<Path> before) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        Set<Path> left;
        do {
            left = new TreeSet<>(BlobFiles.temps(dataDir));
            left.removeAll(before);
            if (left.isEmpty()) {
                return;
            }
            Thread.sleep(100);
        } while (System.nanoTime() < deadline);
        assertThat(left).as("temp files written by the race still in the store after 10 s").isEmpty();
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
}
