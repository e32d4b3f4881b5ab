package io.fedlora.coordinator.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.coordinator.clientapi.AuthenticatedClient;
import io.fedlora.coordinator.clientapi.ClientApiException;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.round.Signals;
import io.fedlora.coordinator.support.CoordinatorTestBase;
import io.fedlora.coordinator.support.SimulatedClient;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;

/**
 * One outstanding GetTask poll per client: a newer poll supersedes the older one, which ends at once with
 * ABORTED, and concurrent polls of one client never wake each other in a loop. The database work is counted
 * as connection uses of the pool (one per autocommit statement or transaction): N polls cost O(N), where the
 * wake-each-other loop cost thousands per second.
 */
class OnePollPerClientTest extends CoordinatorTestBase {

    private static final int POLLS = 20;

    @Autowired MeterRegistry registry;
    @Autowired Signals signals;

    @Test
    void concurrentPollsOfOneClientSupersedeEachOtherWithoutALoop() throws Exception {
        Federation f = createAndStart(spec(uniqueName("one-poll"), 1, 3, 3, 60, 0, false, "fedex"));
        SimulatedClient c = enrol(f, 10).get(0); // one of three needed: the round waits, the client has no task
        AuthenticatedClient client = c.auth();
        ExecutorService pool = Executors.newFixedThreadPool(POLLS);
        try {
            // what the rest of the coordinator (the scheduler ticking over every federation earlier tests left in
            // this shared context) costs in a window as long as the polls', measured just before: only the excess
            // over it is the polls' own
            long idleStart = connectionUses();
            long idleT0 = System.nanoTime();
            Thread.sleep(3000);
            double idlePerMs = (connectionUses() - idleStart) / (double) TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - idleT0);

            long before = connectionUses();
            long t0 = System.nanoTime();
            List<CompletableFuture<String>> polls = new ArrayList<>();
            for (int i = 0; i < POLLS; i++) {
                polls.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        return gateway.pollTask(client, -1, Duration.ofSeconds(3)).isPresent() ? "task" : "wait";
                    } catch (ClientApiException e) {
                        return e.kind() + ": " + e.getMessage();
                    }
                }, pool));
            }
            // every federation change while they wait costs the outstanding poll one check, not a storm
            for (int i = 0; i < 5; i++) {
                Thread.sleep(100);
                signals.federationChanged(f.id());
            }
            CompletableFuture.allOf(polls.toArray(CompletableFuture[]::new)).get(20, TimeUnit.SECONDS);
            long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            long uses = connectionUses() - before;
            long background = Math.round(idlePerMs * elapsedMs);

            List<String> outcomes = polls.stream().map(CompletableFuture::join).toList();
            assertThat(outcomes.stream().filter(o -> o.startsWith("ABORTED: superseded by a newer GetTask poll")))
                    .hasSize(POLLS - 1);
            assertThat(outcomes.stream().filter("wait"::equals)).hasSize(1);
            // the polls overlap the measurement only ~3 s; the loop did 12,000-45,000 transactions per second
            assertThat(uses - background).as("pool connection uses for %d polls in %d ms beyond the background %d",
                            POLLS, elapsedMs, background)
                    .isLessThan(10L * POLLS + 100);
            assertThat(uses).isGreaterThanOrEqualTo(POLLS); // each poll records its heartbeat: the counter does count
            System.out.printf("%d concurrent polls of one client: %d connection uses in %d ms (background %d)%n", POLLS,
                    uses, elapsedMs, background);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aSupersededPollEndsPromptly() throws Exception {
        Federation f = createAndStart(spec(uniqueName("supersede"), 1, 3, 3, 60, 0, false, "fedex"));
        AuthenticatedClient client = enrol(f, 10).get(0).auth();
        CompletableFuture<String> first = CompletableFuture.supplyAsync(() -> {
            try {
                return String.valueOf(gateway.pollTask(client, -1, Duration.ofSeconds(30)));
            } catch (ClientApiException e) {
                return e.kind().name();
            }
        });
        Thread.sleep(500);
        long t0 = System.nanoTime();
        CompletableFuture<Void> second = CompletableFuture.runAsync(() -> gateway.pollTask(client, -1, Duration.ofSeconds(1)));
        assertThat(first.get(5, TimeUnit.SECONDS)).isEqualTo("ABORTED");
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isLessThan(5000);
        second.get(10, TimeUnit.SECONDS);
    }

    private long connectionUses() {
        return registry.find("hikaricp.connections.usage").timers().stream().mapToLong(Timer::count).sum();
    }
}
