package io.fedlora.coordinator.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.coordinator.client.ClientService;
import io.fedlora.coordinator.clientapi.ClientTask;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.support.CoordinatorTestBase;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;

/**
 * An enrolment gives no waiting client work, so it makes no waiting poll re-check the database: with N polls waiting
 * and N more clients enrolling, the checks stay about N (each new poll's own), not N² (every enrolment re-checking
 * every waiting poll, which at a thousand clients was a million queries while they arrived).
 */
class EnrolmentWakesNoPollsTest extends CoordinatorTestBase {

    private static final int N = 30;

    @Autowired TaskPolls taskPolls;

    @Test
    void enrolmentsDoNotMakeWaitingPollsCheckAgain() {
        Federation f = createAndStart(spec(uniqueName("enrol-no-wake"), 1, 1, 10 * N, 60, 0, false, "fedex"));
        List<String> tokens = clientService.issueTokens(f.id(), 2 * N, Duration.ofMinutes(10), "test").stream()
                .map(ClientService.IssuedToken::token).toList();
        List<CompletableFuture<Optional<ClientTask>>> polls = new ArrayList<>();
        for (int i = 0; i < N; i++) {
            var client = gateway.authenticate(gateway.enrol(tokens.get(i), "waiting-" + i, Map.of()).credential());
            polls.add(gateway.startTaskPoll(client, -1, Duration.ofSeconds(30)));
        }
        await("the polls' first checks", Duration.ofSeconds(20), () -> taskPolls.checksRun() >= N);
        long before = taskPolls.checksRun();
        for (int i = N; i < 2 * N; i++) {
            gateway.enrol(tokens.get(i), "late-" + i, Map.of());
        }
        // a federation change reaches the waiting polls within this
        sleep(1000);
        long extra = taskPolls.checksRun() - before;
        assertThat(extra).as("checks of %d waiting polls while %d clients enrolled", N, N).isLessThan(N);
        assertThat(polls).allMatch(p -> !p.isDone());
        polls.forEach(p -> p.cancel(true));
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
