package io.fedlora.coordinator.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fedlora.coordinator.client.ClientService;
import io.fedlora.coordinator.clientapi.AuthenticatedClient;
import io.fedlora.coordinator.clientapi.ClientApiException;
import io.fedlora.coordinator.clientapi.Enrolment;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.support.CoordinatorTestBase;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Enrol is idempotent per (token, name): an agent whose Enrol response was lost retries with the same token and
 * name and gets its client back (with a new credential; the lost one stops working), until it first calls in.
 */
class EnrolmentRetryTest extends CoordinatorTestBase {

    @Test
    void aRetryAfterALostResponseGetsTheSameClientBack() {
        Federation f = createAndStart(spec(uniqueName("enrol-retry"), 1, 2, 2, 60, 0, false, "fedex"));
        String token = clientService.issueTokens(f.id(), 1, Duration.ofMinutes(10), "test").get(0).token();

        Enrolment lost = gateway.enrol(token, "agent-a", Map.of("site", "x"));
        Enrolment retry = gateway.enrol(token, " agent-a ", Map.of("site", "x"));

        assertThat(retry.clientId()).isEqualTo(lost.clientId());
        assertThat(retry.federationId()).isEqualTo(f.id());
        assertThat(retry.credential()).isNotEqualTo(lost.credential());
        refusedAs(() -> gateway.authenticate(lost.credential()), ClientApiException.Kind.UNAUTHENTICATED, "unknown credential");
        AuthenticatedClient client = gateway.authenticate(retry.credential());
        assertThat(client.clientId()).isEqualTo(lost.clientId());
        assertThat(clients(f)).isEqualTo(1);

        // a different name never reuses a used token
        refusedAs(() -> gateway.enrol(token, "agent-b", Map.of()), ClientApiException.Kind.UNAUTHENTICATED, "used");
        assertThat(clients(f)).isEqualTo(1);

        // once the client has called in, its enrolment evidently arrived: the token enrols nothing more
        gateway.heartbeat(client, "idle", -1, "cpu");
        refusedAs(() -> gateway.enrol(token, "agent-a", Map.of()), ClientApiException.Kind.UNAUTHENTICATED, "used");
        assertThat(gateway.authenticate(retry.credential()).clientId()).isEqualTo(lost.clientId());
    }

    @Test
    void aRevokedClientIsNotRevivedByARetry() {
        Federation f = createAndStart(spec(uniqueName("enrol-revoked"), 1, 2, 2, 60, 0, false, "fedex"));
        String token = clientService.issueTokens(f.id(), 1, Duration.ofMinutes(10), "test").get(0).token();
        Enrolment first = gateway.enrol(token, "agent-r", Map.of());
        clientService.revokeClient(first.clientId(), "test");
        refusedAs(() -> gateway.enrol(token, "agent-r", Map.of()), ClientApiException.Kind.UNAUTHENTICATED, "used");
    }

    @Test
    void textTheDatabaseCannotHoldIsRefusedNamingTheField() {
        Federation f = createAndStart(spec(uniqueName("enrol-text"), 1, 2, 2, 60, 0, false, "fedex"));
        String token = clientService.issueTokens(f.id(), 1, Duration.ofMinutes(10), "test").get(0).token();
        refusedAs(() -> gateway.enrol(token, "nul\0name", Map.of()), ClientApiException.Kind.INVALID_ARGUMENT,
                "client_name contains a NUL");
        refusedAs(() -> gateway.enrol(token, "ok", Map.of("site", "a\0b")), ClientApiException.Kind.INVALID_ARGUMENT,
                "label 'site' contains a NUL");
        Enrolment e = gateway.enrol(token, "ok", Map.of("site", "ab"));
        AuthenticatedClient c = gateway.authenticate(e.credential());
        refusedAs(() -> gateway.heartbeat(c, "idle\0", -1, "cpu"), ClientApiException.Kind.INVALID_ARGUMENT,
                "state contains a NUL");
        refusedAs(() -> gateway.heartbeat(c, "idle", -1, "x".repeat(201)), ClientApiException.Kind.INVALID_ARGUMENT,
                "device is longer than 200");
    }

    private long clients(Federation f) {
        return jdbc.sql("SELECT count(*) FROM clients WHERE federation_id = :f::uuid").param("f", f.id())
                .query(Long.class).single();
    }

    private static void refusedAs(Runnable call, ClientApiException.Kind kind, String reason) {
        assertThatThrownBy(call::run).isInstanceOfSatisfying(ClientApiException.class, e -> {
            assertThat(e.kind()).isEqualTo(kind);
            assertThat(e.getMessage()).contains(reason);
        });
    }
}
