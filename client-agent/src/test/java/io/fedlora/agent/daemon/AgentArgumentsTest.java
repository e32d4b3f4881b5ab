package io.fedlora.agent.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class AgentArgumentsTest {

    @Test
    void mapsShortOptionsInBothFormsAndPassesOthersThrough() {
        String[] out = AgentArguments.toSpringArgs(new String[] {
                "--coordinator", "coord:9090", "--token=abc", "--data", "/d", "--work-dir=/w", "--name", "node a",
                "--omp-threads", "1", "--spring.main.banner-mode=console", "positional"});
        assertThat(out).containsExactly(
                "--fedlora.agent.coordinator=coord:9090", "--fedlora.agent.token=abc", "--fedlora.agent.data-dir=/d",
                "--fedlora.agent.work-dir=/w", "--fedlora.agent.name=node a", "--fedlora.agent.omp-threads=1",
                "--spring.main.banner-mode=console", "positional");
    }

    @Test
    void optionWithoutValueIsAnError() {
        assertThatThrownBy(() -> AgentArguments.toSpringArgs(new String[] {"--coordinator"}))
                .hasMessageContaining("--coordinator needs a value");
        assertThatThrownBy(() -> AgentArguments.toSpringArgs(new String[] {"--data", "--name", "x"}))
                .hasMessageContaining("--data needs a value");
    }
}
