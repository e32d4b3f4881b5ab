package io.fedlora.agent;

import io.fedlora.agent.daemon.AgentArguments;
import io.fedlora.agent.daemon.AgentRunner;
import io.fedlora.cli.Cli;
import java.util.Map;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The client agent daemon: {@code ./fedlora agent --coordinator HOST:PORT --token TOKEN --data DIR --work-dir DIR}.
 * Configured by {@code fedlora.agent.*} properties (or {@code FEDLORA_AGENT_*} environment variables — prefer
 * {@code FEDLORA_AGENT_TOKEN} to {@code --token}, which other users can read in the process list). The command line
 * is checked ({@link AgentArguments}) before Spring starts, so {@code --help} and a typo never start an agent.
 * Exits 0 when the federation ends, 1 when it cannot run, 2 on a bad command line, 3 when the coordinator refuses
 * the agent, 143 on SIGTERM. Set {@code OMP_NUM_THREADS} in the environment to cap ND4J's native threads.
 */
@SpringBootApplication(scanBasePackages = "io.fedlora.agent.daemon")
public class AgentApplication {

    public static void main(String[] args) {
        System.exit(Cli.execute(new AgentArguments(AgentApplication::run), args, System.out, System.err));
    }

    /** Runs the daemon with Spring arguments until the task loop ends; returns the process exit status. */
    static int run(String[] springArgs) throws InterruptedException {
        SpringApplication app = new SpringApplication(AgentApplication.class);
        app.setWebApplicationType(WebApplicationType.NONE);
        app.setDefaultProperties(Map.of("spring.main.banner-mode", "off"));
        ConfigurableApplicationContext context = app.run(springArgs);
        int code = context.getBean(AgentRunner.class).awaitExit();
        return SpringApplication.exit(context, () -> code);
    }
}
