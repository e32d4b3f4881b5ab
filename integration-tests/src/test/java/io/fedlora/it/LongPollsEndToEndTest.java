package io.fedlora.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.fedlora.demo.admin.AdminClient;
import io.fedlora.demo.admin.FederationView;
import io.fedlora.it.support.Database;
import io.fedlora.it.support.EnvironmentExtension;
import io.fedlora.it.support.FederationEnvironment;
import io.fedlora.it.support.RawFederationClient;
import io.fedlora.it.support.TestFederations;
import io.fedlora.proto.v1.EnrolResponse;
import io.fedlora.proto.v1.TaskKind;
import io.fedlora.proto.v1.TaskResponse;
import io.grpc.StatusRuntimeException;

/**
 * Concurrent GetTask long polls of one client, sent over the wire to a coordinator process, used to wake each other
 * in a loop: 12,000-45,000 database transactions per second, and every other client starved. Now a newer poll
 * supersedes the older one (which ends ABORTED at once): measured on the coordinator's own database
 * ({@code pg_stat_database}), N concurrent polls cost O(N) transactions beyond an idle window of the same length,
 * and another client's heartbeats and polls are answered promptly meanwhile.
 */
@Tag("e2e")
@ExtendWith(EnvironmentExtension.class)
class LongPollsEndToEndTest {

    private static final int POLLS = 8;
    private static final int WAIT_MS = 4000;
    /**
     * Beyond the idle baseline: the polls' own statements and the bystander's calls (together 190-280 measured) and slack
     * for stats flushed late; the loop cost 12,000-45,000 a second, i.e. tens of thousands in this window.
     */
    private static final long ALLOWED_EXCESS = 100L * POLLS + 400;

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void concurrentPollsOfOneClientCostLinearTransactionsAndStarveNoOne(FederationEnvironment env) throws Exception {
        FederationEnvironment.Coordinator coordinator = env.sharedCoordinator();
        Database db = coordinator.database();
        AdminClient admin = env.admin(coordinator);
        // three clients needed, two enrolled: the round waits, so every poll waits (nothing to hand out)
        FederationView federation = admin.createFederation(TestFederations.spec("fedex", 1, 3, 3, 600, false, env.modelDir()));
        String id = federation.id();
        List<String> tokens = admin.issueEnrolmentTokens(id, 2, 600);
        ExecutorService pool = Executors.newFixedThreadPool(POLLS + 1);
        try (RawFederationClient poller = new RawFederationClient(coordinator.process().grpcAddress());
             RawFederationClient bystander = new RawFederationClient(coordinator.process().grpcAddress())) {
            EnrolResponse a = poller.enrol(tokens.get(0), "poller");
            EnrolResponse b = bystander.enrol(tokens.get(1), "bystander");
            admin.start(id);
            assertThat(poller.task(a.getCredential(), 0).getKind()).isEqualTo(TaskKind.WAIT);
            assertThat(bystander.task(b.getCredential(), 0).getKind()).isEqualTo(TaskKind.WAIT);

            // what the coordinator costs its database with nobody polling, over as long as the polls take
            long windowMs = WAIT_MS + 1500;
            long idleStart = transactions(db);
            Thread.sleep(windowMs);
            long idle = transactions(db) - idleStart;

            long before = transactions(db);
            long t0 = System.nanoTime();
            List<CompletableFuture<String>> polls = new ArrayList<>();
            for (int i = 0; i < POLLS; i++) {
                polls.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        TaskResponse t = poller.task(a.getCredential(), WAIT_MS);
                        return t.getKind().name();
                    } catch (StatusRuntimeException e) {
                        return e.getStatus().getCode() + ": " + e.getStatus().getDescription();
                    }
                }, pool));
            }
            // meanwhile the other client heartbeats and polls; each answer must come promptly
            List<Long> bystanderMs = new ArrayList<>();
            while (polls.stream().anyMatch(p -> !p.isDone())) {
                long s = System.nanoTime();
                bystander.heartbeat(b.getCredential(), "idle");
                assertThat(bystander.task(b.getCredential(), 0).getKind()).isEqualTo(TaskKind.WAIT);
                bystanderMs.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - s));
                Thread.sleep(200);
            }
            List<String> outcomes = polls.stream().map(CompletableFuture::join).toList();
            long pollsMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            Thread.sleep(Math.max(0, windowMs - pollsMs)); // the same window as the idle one, stats flushed alike
            long used = transactions(db) - before;

            System.out.printf("%d concurrent polls of one client: %d transactions in %d ms (idle window: %d); polls took %d ms;"
                    + " bystander heartbeat+poll %s ms; outcomes %s%n", POLLS, used, windowMs, idle, pollsMs, bystanderMs,
                    outcomes);
            assertThat(outcomes.stream().filter(o -> o.startsWith("ABORTED") && o.contains("superseded")))
                    .as("superseded polls in " + outcomes).hasSize(POLLS - 1);
            assertThat(outcomes.stream().filter("WAIT"::equals)).as("the newest poll waits out its time").hasSize(1);
            assertThat(pollsMs).as("the newest poll ends after its wait, not at once nor much later")
                    .isBetween((long) WAIT_MS - 500, (long) WAIT_MS + 3000);
            assertThat(used - idle).as("database transactions of %d polls beyond the idle window's %d", POLLS, idle)
                    .isLessThan(ALLOWED_EXCESS);
            assertThat(bystanderMs).as("the other client's heartbeat + poll round trips, ms").isNotEmpty()
                    .allMatch(ms -> ms < 2000);
        } finally {
            pool.shutdownNow();
            admin.cancel(id);
        }
    }

    /** Transactions committed or rolled back in the coordinator's database so far (every autocommit statement is one). */
    private static long transactions(Database db) {
        return db.count("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()");
    }
}
