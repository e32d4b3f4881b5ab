package io.fedlora.coordinator.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fedlora.coordinator.client.ClientService;
import io.fedlora.coordinator.clientapi.ClientApiException;
import io.fedlora.coordinator.clientapi.ClientTask;
import io.fedlora.coordinator.clientapi.UploadReceiptInfo;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.round.AcceptedUpdate;
import io.fedlora.coordinator.support.CoordinatorTestBase;
import io.fedlora.coordinator.support.SimulatedClient;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * Deadlines and expiries judged by the injected clock (moved forward, never slept through), and the
 * accepted-update hook the round builds on.
 */
class DeadlinesAndHooksTest extends CoordinatorTestBase {

    @Test
    void enrolmentTokenExpiresByTheClock() {
        Federation f = createAndStart(spec(uniqueName("expiry"), 1, 2, 2, 60, 0, false, "fedex"));
        List<ClientService.IssuedToken> tokens = clientService.issueTokens(f.id(), 2, Duration.ofMinutes(5), "test");
        clock.advance(Duration.ofMinutes(4));
        assertThat(gateway.enrol(tokens.get(0).token(), "in-time", Map.of()).federationId()).isEqualTo(f.id());
        clock.advance(Duration.ofMinutes(2));
        assertThatThrownBy(() -> gateway.enrol(tokens.get(1).token(), "too-late", Map.of()))
                .isInstanceOfSatisfying(ClientApiException.class,
                        e -> assertThat(e.kind()).isEqualTo(ClientApiException.Kind.UNAUTHENTICATED));
    }

    @Test
    void roundDeadlinePassedByTheClockStopsOfferingTheTaskAndRefusesLateUpdates() {
        Federation f = createAndStart(spec(uniqueName("deadline"), 1, 2, 2, 600, 0, false, "fedex"));
        List<SimulatedClient> clients = enrol(f, 10, 10);
        SimulatedClient c = clients.get(0);
        ClientTask task = c.awaitTask(ClientTask.Kind.TRAIN, Duration.ofSeconds(10));
        SimulatedClient.Upload upload = c.prepare(task);

        // the round engine judges the deadline by the same clock, so it may close the round at any moment from here:
        // whichever of the two checks sees the late client first, it gets no TRAIN task and its update is refused
        clock.advance(Duration.ofSeconds(601));
        assertThat(c.poll(Duration.ZERO)).as("no TRAIN task once the deadline passed")
                .map(ClientTask::kind).isNotEqualTo(Optional.of(ClientTask.Kind.TRAIN));
        assertThatThrownBy(() -> c.upload(upload)).isInstanceOfSatisfying(ClientApiException.class, e -> {
            assertThat(e.kind()).isEqualTo(ClientApiException.Kind.FAILED_PRECONDITION);
            assertThat(e.getMessage()).containsAnyOf("the deadline of round 1", "no longer accepts updates",
                    "accepts no updates");
        });
        assertThat(acceptedUpdates.seen().stream().filter(a -> a.federationId().equals(f.id()))).isEmpty();
    }

    @Test
    void acceptedUpdateIsAnnouncedOnceToTheHook() {
        Federation f = createAndStart(spec(uniqueName("hook"), 1, 2, 2, 600, 0, false, "fedex"));
        List<SimulatedClient> clients = enrol(f, 10, 10);
        SimulatedClient c = clients.get(0);
        ClientTask task = c.awaitTask(ClientTask.Kind.TRAIN, Duration.ofSeconds(10));
        SimulatedClient.Upload upload = c.prepare(task);
        UploadReceiptInfo receipt = c.upload(upload);
        assertThat(receipt.duplicate()).isFalse();

        AcceptedUpdate seen = acceptedUpdates.seen().stream()
                .filter(a -> a.update().id().equals(receipt.updateId())).findFirst().orElseThrow();
        assertThat(seen.federationId()).isEqualTo(f.id());
        assertThat(seen.roundNumber()).isEqualTo(1);
        assertThat(seen.update().numExamples()).isEqualTo(10);
        assertThat(seen.factors()).hasSize(task.expectedUpdate().size());
        assertThat(seen.factors().get(0).name()).isEqualTo(task.expectedUpdate().get(0).name());

        // an idempotent retry of the same upload is not announced twice
        assertThat(c.upload(upload).duplicate()).isTrue();
        assertThat(acceptedUpdates.seen().stream().filter(a -> a.update().id().equals(receipt.updateId()))).hasSize(1);
    }
}
