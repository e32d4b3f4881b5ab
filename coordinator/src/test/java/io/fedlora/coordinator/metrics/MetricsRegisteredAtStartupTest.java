package io.fedlora.coordinator.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.coordinator.support.CoordinatorTestBase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * The coordinator's counters exist from the first scrape: every rejection reason and round outcome is a
 * series at zero before anything happened, so rate() and alerts see them (issue 14).
 */
class MetricsRegisteredAtStartupTest extends CoordinatorTestBase {

    @LocalServerPort int port;

    @Test
    void prometheusListsEveryRejectionReasonAndRoundOutcome() throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/actuator/prometheus")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        for (String reason : CoordinatorMetrics.REJECTION_REASONS) {
            assertThat(r.body()).containsPattern("(?m)^fedlora_updates_rejected_total\\{[^}]*reason=\"" + reason + "\"[^}]*} ");
        }
        for (String outcome : CoordinatorMetrics.ROUND_OUTCOMES) {
            assertThat(r.body()).containsPattern("(?m)^fedlora_rounds_total\\{[^}]*outcome=\"" + outcome + "\"[^}]*} ");
        }
        assertThat(r.body()).containsPattern("(?m)^fedlora_updates_accepted_total(\\{[^}]*})? ");
    }

    @Test
    void aFreshRegistryHoldsEveryCounterAtZero() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        new CoordinatorMetrics(registry);
        for (String reason : CoordinatorMetrics.REJECTION_REASONS) {
            assertThat(registry.get("fedlora.updates.rejected").tag("reason", reason).counter().count()).isZero();
        }
        for (String outcome : CoordinatorMetrics.ROUND_OUTCOMES) {
            assertThat(registry.get("fedlora.rounds").tag("outcome", outcome).counter().count()).isZero();
        }
        assertThat(registry.get("fedlora.updates.accepted").counter().count()).isZero();

        CoordinatorMetrics metrics = new CoordinatorMetrics(registry);
        metrics.updateRejected("norm_exceeded");
        assertThat(registry.get("fedlora.updates.rejected").tag("reason", "norm_exceeded").counter().count()).isEqualTo(1);
        assertThat(registry.get("fedlora.updates.rejected").tag("reason", "non_finite").counter().count()).isZero();
    }

    /** The pre-registered list is the gateway's: a reason tag added there without listing it here fails this test. */
    @Test
    void theListedReasonsAreExactlyTheGatewaysTags() throws Exception {
        Pattern rejection = Pattern.compile("Rejection\\(\\s*Kind\\.\\w+,\\s*\"([a-z_]+)\"");
        Set<String> used = new TreeSet<>();
        try (Stream<Path> files = Files.list(Path.of("src/main/java/io/fedlora/coordinator/gateway"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                Matcher m = rejection.matcher(Files.readString(f));
                while (m.find()) {
                    used.add(m.group(1));
                }
            }
        }
        assertThat(used).isNotEmpty();
        assertThat(new TreeSet<>(CoordinatorMetrics.REJECTION_REASONS)).isEqualTo(used);
    }
}
