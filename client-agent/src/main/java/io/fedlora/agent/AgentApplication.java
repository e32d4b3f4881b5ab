package io.fedlora.agent;

import io.fedlora.agent.daemon.AgentArguments;
import io.fedlora.agent.daemon.AgentRunner;
import java.util.Map;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The client agent daemon: {@code ./fedlora agent --coordinator HOST:PORT --token TOKEN --data DIR --work-dir DIR}.
 * Configured by {@code fedlora.agent.*} properties (or {@code FEDLORA_AGENT_*} environment variables — prefer
 * {@code FEDLORA_AGENT_TOKEN} to {@code --token}, which other users can read in the process list). Exits 0 when
 * the federation ends or on SIGTERM, 2 when the coordinator refuses the agent, 1 when it cannot run.
 * Set {@code OMP_NUM_THREADS} in the environment to cap ND4J's native threads from the start.
 */
@SpringBootApplication(scanBasePackages = "io.fedlora.agent.daemon")
public class AgentApplication {

    public static void main(String[] args) throws InterruptedException {
        SpringApplication app = new SpringApplication(AgentApplication.class);
        app.setWebApplicationType(WebApplicationType.NONE);
        app.setDefaultProperties(Map.of("spring.main.banner-mode", "off"));
        ConfigurableApplicationContext context = app.run(AgentArguments.toSpringArgs(args));
        int code = context.getBean(AgentRunner.class).awaitExit();
        System.exit(SpringApplication.exit(context, () -> code));
    }
}
