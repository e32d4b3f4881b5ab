package io.fedlora.agent.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.agent.data.BadLinePolicy;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The agent's settings and stored credential print without their secrets (they end up in logs and messages). */
class SecretsPrintRedactedTest {

    private static final String SECRET = "s3cret-value-0123456789";

    @Test
    void tokenAndCredentialAreNotPrinted() {
        AgentProperties properties = new AgentProperties("127.0.0.1:9090", SECRET, "node-1", Path.of("data"),
                Path.of("work"), new AgentProperties.Tls(false, null, null, null, null), Duration.ofSeconds(10), 1,
                BadLinePolicy.SKIP, Duration.ofSeconds(20), Duration.ofSeconds(15), Duration.ofMinutes(10),
                new AgentProperties.Retry(Duration.ofMillis(500), Duration.ofSeconds(30), 2.0, Duration.ofMinutes(15)),
                10, null);
        assertThat(properties.toString()).contains("node-1", "127.0.0.1:9090").doesNotContain(SECRET);
        assertThat(new StoredCredential("client-1", SECRET, "federation-1", "127.0.0.1:9090", "node-1").toString())
                .contains("client-1").doesNotContain(SECRET);
    }
}
