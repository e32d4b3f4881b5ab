package io.fedlora.coordinator.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.coordinator.blob.BlobStore;
import io.fedlora.coordinator.client.ClientService;
import io.fedlora.coordinator.config.FedloraProperties;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.support.CoordinatorTestBase;
import io.fedlora.proto.v1.TaskKind;
import io.fedlora.proto.v1.TaskResponse;
import io.fedlora.proto.v1.UploadReceipt;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.grpc.server.lifecycle.GrpcServerLifecycle;

/**
 * Many uploads of one client for one round, released at once over their own loopback gRPC connections into
 * the real coordinator (PostgreSQL, blob store): different upload ids, copies of one upload id, streams dropped
 * mid-way and streams dropped right after the trailer (the receipt lost), then the agent's retries. Exactly one
 * update is accepted, every receipt names it, every loser is refused as already reported, and the blob store
 * afterwards holds exactly the winner's blob: no orphan file, no temp file, no row without its file.
 */
class RacingUploadsTest extends CoordinatorTestBase {

    private static final Duration WAIT = Duration.ofSeconds(30);

    @Autowired
    private GrpcServerLifecycle grpcServer;
    @Autowired
    private FedloraProperties properties;

    private final List<TestAgent> agents = new ArrayList<>();
    private final List<String> federationsToCancel = new ArrayList<>();

    @AfterEach
    void closeAgents() throws InterruptedException {
        for (TestAgent a : agents) {
            a.close();
        }
        federationsToCancel.forEach(id -> federations.cancel(id, "test"));
    }

    @Test
    void racingUploadsWithDifferentIdsLeaveOneAcceptedUpdateAndOnlyItsBlob() throws Exception {
        Race race = openRound("race-ids");
        List<TestAgent.Upload> uploads = new ArrayList<>();
        for (int id = 0; id < 6; id++) {
            TestAgent.Upload u = race.upload("race-" + id, 600 + id);
            uploads.add(u.with(TestAgent.Fault.DROP_MID_STREAM));
            uploads.add(u.with(TestAgent.Fault.DROP_AFTER_TRAILER));
            uploads.add(u);
            uploads.add(u);
        }
        List<Object> outcomes = race.runTogether(uploads);

        String winner = race.assertOneAcceptedUpdate(outcomes);
        String winnerUpload = uploadIdOf(winner);
        for (Object o : outcomes) {
            if (o instanceof Status s) {
                assertThat(s.getCode()).as("a racing upload's refusal: " + s)
                        .isIn(Status.Code.ALREADY_EXISTS, Status.Code.CANCELLED);
            }
        }
        // the agents' retries afterwards: the winner's id is a duplicate of it, every other id already reported
        for (int id = 0; id < 6; id++) {
            TestAgent.Upload u = race.upload("race-" + id, 600 + id);
            if (u.uploadId().equals(winnerUpload)) {
                UploadReceipt again = race.agent.upload(u);
                assertThat(again.getDuplicate()).isTrue();
                assertThat(again.getUpdateId()).isEqualTo(winner);
            } else {
                GrpcWireTest.assertStatus(() -> race.agent.upload(u), Status.Code.ALREADY_EXISTS, "already accepted");
            }
        }
        race.assertBlobStoreHoldsOnlyTheWinner(winner);
    }

    @Test
    void retriesOfOneUploadRacingAfterALostReceiptStoreItOnce() throws Exception {
        Race race = openRound("race-retry");
        TestAgent.Upload u = race.upload("retried", 700);
        // the first attempt's receipt is lost: stored or not, the agent retries, several times at once
        try {
            race.agent.upload(u.with(TestAgent.Fault.DROP_AFTER_TRAILER));
        } catch (StatusRuntimeException e) {
            assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.CANCELLED);
        }
        List<TestAgent.Upload> retries = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            retries.add(i % 4 == 3 ? u.with(TestAgent.Fault.DROP_AFTER_TRAILER) : u);
        }
        List<Object> outcomes = race.runTogether(retries);

        String winner = race.assertOneAcceptedUpdate(outcomes);
        for (Object o : outcomes) {
            if (o instanceof Status s) {
                assertThat(s.getCode()).as("only a dropped retry fails: " + s).isEqualTo(Status.Code.CANCELLED);
            }
        }
        assertThat(outcomes.stream().filter(o -> o instanceof UploadReceipt).count())
                .as("every retry that was not dropped got a receipt").isGreaterThanOrEqualTo(9);
        UploadReceipt last = race.agent.upload(u);
        assertThat(last.getDuplicate()).isTrue();
        assertThat(last.getUpdateId()).isEqualTo(winner);
        race.assertBlobStoreHoldsOnlyTheWinner(winner);
    }

    // ---------------------------------------------------------------------------------------------

    /** One open round of a two-client federation whose first client races; the second keeps the round open. */
    private final class Race {
        final Federation federation;
        final TaskResponse task;
        final TestAgent agent;
        final String clientId;
        final Set<String> filesBefore;
        final Set<Path> tempsBefore;

        Race(Federation federation, TaskResponse task, TestAgent agent, String clientId) throws IOException {
            this.federation = federation;
            this.task = task;
            this.agent = agent;
            this.clientId = clientId;
            this.filesBefore = blobFiles();
            this.tempsBefore = tempFiles();
        }

        TestAgent.Upload upload(String uploadId, long seed) {
            List<TestAgent.Tensor> factors = new ArrayList<>();
            for (int i = 0; i < task.getExpectedUpdateCount(); i++) {
                factors.add(TestAgent.Tensor.random(task.getExpectedUpdate(i), seed * 1000 + i, 0.3));
            }
            return new TestAgent.Upload(federation.id(), task.getRound(), uploadId, 10, task.getModelVersion(), factors,
                    256, TestAgent.Fault.NONE);
        }

        /** Runs every upload on its own connection with the agent's credential, all released at once. */
        List<Object> runTogether(List<TestAgent.Upload> uploads) throws Exception {
            ExecutorService pool = Executors.newFixedThreadPool(uploads.size());
            try {
                CountDownLatch ready = new CountDownLatch(uploads.size());
                CountDownLatch go = new CountDownLatch(1);
                List<Future<Object>> futures = new ArrayList<>();
                for (TestAgent.Upload u : uploads) {
                    TestAgent racer = TestAgent.connect(grpcServer.getPort()).withCredential(agent.credential());
                    agents.add(racer);
                    futures.add(pool.submit(() -> {
                        racer.heartbeat("training", -1); // the connection is up before the start
                        ready.countDown();
                        go.await();
                        try {
                            return racer.upload(u);
                        } catch (StatusRuntimeException e) {
                            return e.getStatus();
                        }
                    }));
                }
                assertThat(ready.await(WAIT.toSeconds(), TimeUnit.SECONDS)).as("racers connected").isTrue();
                go.countDown();
                List<Object> out = new ArrayList<>();
                for (Future<Object> f : futures) {
                    out.add(f.get(WAIT.toSeconds() * 2, TimeUnit.SECONDS));
                }
                return out;
            } finally {
                pool.shutdownNow();
            }
        }

        /** Exactly one update row for the client; at most one fresh receipt; every receipt names that row. */
        String assertOneAcceptedUpdate(List<Object> outcomes) {
            List<String> rows = jdbc.sql("SELECT u.id::text FROM updates u JOIN rounds r ON r.id = u.round_id "
                    + "WHERE r.federation_id = :f::uuid").param("f", federation.id()).query(String.class).list();
            assertThat(rows).as("update rows of the federation after the race " + outcomes).hasSize(1);
            String winner = rows.get(0);
            List<UploadReceipt> receipts = outcomes.stream().filter(o -> o instanceof UploadReceipt)
                    .map(o -> (UploadReceipt) o).toList();
            assertThat(receipts.stream().filter(r -> !r.getDuplicate()).count())
                    .as("fresh (non-duplicate) receipts").isLessThanOrEqualTo(1);
            assertThat(receipts).extracting(UploadReceipt::getUpdateId).containsOnly(winner);
            assertThat(jdbc.sql("SELECT count(*) FROM round_participants p JOIN rounds r ON r.id = p.round_id "
                    + "WHERE r.federation_id = :f::uuid AND p.status = 'REPORTED'").param("f", federation.id())
                    .query(Long.class).single()).as("reported participants").isEqualTo(1);
            assertThat(acceptedUpdates.seen().stream().filter(a -> a.update().id().equals(winner)).count())
                    .as("the round was told of the winner once").isEqualTo(1);
            return winner;
        }

        /**
         * Of the blob files written since the race began, the ones holding this client's updates (their safetensors
         * metadata names the client; other federations of the shared context may publish meanwhile) are exactly the
         * winner's, registered, with bytes matching its name; no temp file written since stays behind.
         */
        void assertBlobStoreHoldsOnlyTheWinner(String winner) throws IOException {
            String sha = jdbc.sql("SELECT blob_sha256 FROM updates WHERE id = :id::uuid").param("id", winner)
                    .query(String.class).single();
            Set<String> ours = new TreeSet<>();
            for (String f : blobFiles()) {
                if (!filesBefore.contains(f) && clientId.equals(metadata(f).get("client"))) {
                    ours.add(f);
                }
            }
            assertThat(ours).as("blob files of this client's racing uploads left in the store").containsExactly(sha);
            assertThat(registeredBlobs()).as("the winner's blob is registered").contains(sha);
            assertThat(BlobStore.sha256(blobStore().path(sha))).as("the winner's blob bytes").isEqualTo(sha);
            // a temp file of another federation's write in flight goes within moments; a leftover stays
            await("temp files written since the race began to go", Duration.ofSeconds(10), () -> {
                Set<Path> left = tempFiles();
                left.removeAll(tempsBefore);
                return left.isEmpty();
            });
        }
    }

    private Race openRound(String name) throws IOException {
        Federation f = createAndStart(spec(uniqueName(name), 1, 2, 2, 120, 0, false, "fedex"));
        federationsToCancel.add(f.id());
        List<String> tokens = clientService.issueTokens(f.id(), 2, Duration.ofMinutes(5), "test").stream()
                .map(ClientService.IssuedToken::token).toList();
        List<TestAgent> enrolled = new ArrayList<>();
        List<String> ids = new ArrayList<>();
        for (String token : tokens) {
            TestAgent a = TestAgent.connect(grpcServer.getPort());
            agents.add(a);
            ids.add(a.enrol(token, uniqueName("racer")).getClientId());
            a.heartbeat("idle", -1);
            enrolled.add(a);
        }
        TaskResponse task = awaitTask(enrolled.get(0));
        return new Race(f, task, enrolled.get(0), ids.get(0));
    }

    private static TaskResponse awaitTask(TestAgent agent) {
        long end = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() < end) {
            TaskResponse t = agent.poll(1_000, -1);
            if (t.getKind() == TaskKind.TRAIN) {
                return t;
            }
        }
        throw new AssertionError("no TRAIN task within " + WAIT);
    }

    private String uploadIdOf(String updateId) {
        return jdbc.sql("SELECT upload_id FROM updates WHERE id = :id::uuid").param("id", updateId)
                .query(String.class).single();
    }

    private BlobStore blobStore() {
        return new BlobStore(properties.blobDir());
    }

    /** The sha256 names of the blob files on disk ({@code ab/cdef...}), temp files excluded. */
    private Set<String> blobFiles() throws IOException {
        Path root = properties.blobDir();
        try (Stream<Path> s = Files.walk(root, 2)) {
            return s.filter(Files::isRegularFile)
                    .filter(p -> !p.getParent().equals(root) && !p.getParent().getFileName().toString().equals("tmp"))
                    .map(p -> p.getParent().getFileName().toString() + p.getFileName())
                    .collect(Collectors.toCollection(HashSet::new));
        }
    }

    private Set<Path> tempFiles() {
        try (Stream<Path> s = Files.list(properties.blobDir().resolve("tmp"))) {
            return s.collect(Collectors.toCollection(HashSet::new));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** A blob's safetensors metadata; empty for a blob that is not a safetensors file (a tokenizer, a config). */
    private java.util.Map<String, String> metadata(String sha) {
        try (SafetensorsReader r = SafetensorsReader.open(blobStore().path(sha))) {
            return r.metadata() == null ? java.util.Map.of() : r.metadata();
        } catch (IOException | RuntimeException e) {
            return java.util.Map.of();
        }
    }

    private Set<String> registeredBlobs() {
        return new HashSet<>(jdbc.sql("SELECT sha256 FROM blobs").query(String.class).list());
    }
}
