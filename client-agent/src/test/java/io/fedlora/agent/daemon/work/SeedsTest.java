package io.fedlora.agent.daemon.work;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SeedsTest {

    @Test
    void clientSeedIsReproducibleAndDiffersBetweenClientsAndFederationSeeds() {
        long a = Seeds.forClient(42, "client-a");
        assertThat(Seeds.forClient(42, "client-a")).isEqualTo(a);
        assertThat(Seeds.forClient(42, "client-b")).isNotEqualTo(a);
        assertThat(Seeds.forClient(43, "client-a")).isNotEqualTo(a);
    }
}
