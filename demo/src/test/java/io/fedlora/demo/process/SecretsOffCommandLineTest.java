package io.fedlora.demo.process;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;

/** Secrets reach the child processes through their environment, never their command lines (which `ps` shows). */
class SecretsOffCommandLineTest {

    @Test
    void agentTokenAndAdminKeyTravelInTheEnvironment() {
        AgentSettings agent = new AgentSettings("client-1", "127.0.0.1:9090", "enrol-s3cret", Path.of("data"),
                Path.of("work"), List.of());
        assertThat(String.join(" ", agent.args())).doesNotContain("enrol-s3cret").doesNotContain("--token");
        assertThat(agent.environment()).containsEntry("FEDLORA_AGENT_TOKEN", "enrol-s3cret");

        CoordinatorSettings coordinator = CoordinatorSettings.onFreePorts("coordinator", Path.of("coord"), List.of());
        assertThat(String.join(" ", coordinator.springArgs())).doesNotContain(coordinator.apiKey())
                .doesNotContain("api-key");
        assertThat(coordinator.environment()).containsEntry("FEDLORA_ADMIN_API_KEY", coordinator.apiKey());
    }

    @Test
    void aDatabasePasswordGivenAsAnArgumentIsMovedIntoTheEnvironment() {
        CoordinatorSettings coordinator = CoordinatorSettings.onFreePorts("coordinator", Path.of("coord"),
                List.of("--spring.datasource.url=jdbc:postgresql://127.0.0.1:5432/x", "--spring.datasource.username=u",
                        "--spring.datasource.password=pg-s3cret"));
        assertThat(String.join(" ", coordinator.springArgs())).doesNotContain("pg-s3cret")
                .contains("--spring.datasource.url=jdbc:postgresql://127.0.0.1:5432/x", "--spring.datasource.username=u");
        assertThat(coordinator.environment()).containsEntry("SPRING_DATASOURCE_PASSWORD", "pg-s3cret");
    }

    @Test
    void settingsPrintWithoutTheirSecrets() {
        AgentSettings agent = new AgentSettings("client-1", "127.0.0.1:9090", "enrol-s3cret", Path.of("data"),
                Path.of("work"), List.of());
        CoordinatorSettings coordinator = CoordinatorSettings.onFreePorts("coordinator", Path.of("coord"),
                List.of("--spring.datasource.password=pg-s3cret"));
        assertThat(agent.toString()).contains("client-1").doesNotContain("enrol-s3cret");
        assertThat(coordinator.toString()).contains("coordinator").doesNotContain("pg-s3cret")
                .doesNotContain(coordinator.apiKey());
    }
}
