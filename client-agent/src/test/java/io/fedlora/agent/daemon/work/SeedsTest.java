package io.fedlora.agent.daemon.work;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SeedsTest {

    @Test
    void seedIsReproducibleAndDiffersBetweenClientsRoundsAndFederationSeeds() {
        long a = Seeds.forClientRound(42, "client-a", 1);
        assertThat(Seeds.forClientRound(42, "client-a", 1)).isEqualTo(a);
        assertThat(Seeds.forClientRound(42, "client-b", 1)).isNotEqualTo(a);
        assertThat(Seeds.forClientRound(43, "client-a", 1)).isNotEqualTo(a);
        assertThat(Seeds.forClientRound(42, "client-a", 2)).isNotEqualTo(a);
    }
}
