package io.fedlora.coordinator.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.coordinator.client.ClientController;
import io.fedlora.coordinator.client.ClientService;
import io.fedlora.coordinator.clientapi.Enrolment;
import io.fedlora.coordinator.config.FedloraProperties;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The values that carry a secret print without it: records end up in log lines, exception messages and
 * debugger views, and a record's generated {@code toString} prints every component.
 */
class SecretsPrintRedactedTest {

    private static final String SECRET = "s3cret-value-0123456789";

    @Test
    void adminKeyTokensAndCredentialsAreNotPrinted() {
        Instant at = Instant.parse("2026-12-03T00:00:00Z");
        List<Object> values = List.of(
                new FedloraProperties.Admin(SECRET),
                new ClientService.IssuedToken("token-id-1", SECRET, at),
                new ClientController.TokenItem("token-id-1", SECRET, at),
                new ClientController.TokenResponse(List.of(SECRET),
                        List.of(new ClientController.TokenItem("token-id-1", SECRET, at))),
                new Enrolment("client-1", SECRET, "federation-1"));
        for (Object value : values) {
            assertThat(value.toString()).as(value.getClass().getSimpleName()).doesNotContain(SECRET);
        }
        assertThat(new ClientService.IssuedToken("token-id-1", SECRET, at).toString()).contains("token-id-1");
        assertThat(new FedloraProperties.Admin(null).toString()).contains("generated");
    }
}
