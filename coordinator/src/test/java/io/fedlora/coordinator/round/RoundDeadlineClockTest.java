package io.fedlora.coordinator.round;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.coordinator.clientapi.ClientTask;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.federation.FederationStatus;
import io.fedlora.coordinator.support.CoordinatorTestBase;
import io.fedlora.coordinator.support.SimulatedClient;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;

/**
 * The round engine judges round deadlines by the coordinator's {@link java.time.Clock} bean: a round with a
 * ten-minute deadline closes as soon as the test clock is moved past it, without anybody sleeping through it.
 */
class RoundDeadlineClockTest extends CoordinatorTestBase {

    @Autowired RoundRepository rounds;
    @Autowired RoundMetricsRepository roundMetrics;

    @Test
    void movingTheClockPastTheDeadlineClosesTheRoundWithTheUpdatesIn() {
        Federation f = createAndStart(spec(uniqueName("clock-deadline"), 1, 1, 2, 600, 0, false, "fedex"));
        List<SimulatedClient> clients = enrol(f, 10, 10);
        clients.get(0).trainOnce(Duration.ofSeconds(10));
        clients.get(1).awaitTask(ClientTask.Kind.TRAIN, Duration.ofSeconds(10)); // selected, never reports

        // many scheduler ticks (50 ms) with one of two in and the deadline ten minutes away: still collecting
        await("the first update to be stored", Duration.ofSeconds(10), () -> acceptedUpdates.seen().stream()
                .anyMatch(a -> a.federationId().equals(f.id())));
        sleepTicks(20);
        RoundRecord open = rounds.current(f.id(), 1).orElseThrow();
        assertThat(open.status()).isEqualTo(RoundStatus.COLLECTING);
        assertThat(open.deadline()).isAfter(clock.instant().plusSeconds(590));

        long t0 = System.nanoTime();
        clock.advance(Duration.ofSeconds(601));
        awaitStatus(f.id(), FederationStatus.COMPLETED, Duration.ofSeconds(20));
        long closedMs = (System.nanoTime() - t0) / 1_000_000;

        RoundRecord r1 = rounds.current(f.id(), 1).orElseThrow();
        assertThat(r1.status()).isEqualTo(RoundStatus.PUBLISHED);
        assertThat(roundMetrics.find(r1.id()).orElseThrow().numClients()).isEqualTo(1);
        assertThat(jdbc.sql("SELECT status FROM round_participants WHERE round_id = :r AND client_id = :c::uuid")
                .param("r", r1.id()).param("c", clients.get(1).id()).query(String.class).single()).isEqualTo("MISSED");
        assertThat(closedMs).as("the round closed %d ms after the clock passed its deadline", closedMs).isLessThan(20_000);
    }

    private static void sleepTicks(int ticks) {
        try {
            Thread.sleep(50L * ticks);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
