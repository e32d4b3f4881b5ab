package io.fedlora.coordinator;

import io.fedlora.cli.Cli;
import io.fedlora.coordinator.config.FedloraProperties;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.autoconfigure.security.servlet.UserDetailsServiceAutoConfiguration;
import org.springframework.boot.context.properties.EnableConfigurationProperties;

/**
 * The fedlora coordinator: schedules federated rounds, collects LoRA updates over gRPC, aggregates
 * them exactly and serves the admin REST API, with all state in PostgreSQL.
 */
// no user store: the admin API authenticates by key (see security.AdminSecurityConfiguration), so Spring Boot's
// generated in-memory user and its logged password must not exist
@SpringBootApplication(exclude = UserDetailsServiceAutoConfiguration.class)
@EnableConfigurationProperties(FedloraProperties.class)
public class CoordinatorApplication {

    /** {@link CoordinatorArguments}' status when Spring started: the server keeps running on its own threads. */
    private static final int STARTED = -1;

    /**
     * Checks the command line before Spring starts ({@link CoordinatorArguments}): {@code --help}, {@code --version}
     * and a bad option never start a coordinator.
     */
    public static void main(String[] args) {
        int status = Cli.execute(new CoordinatorArguments(springArgs -> {
            SpringApplication.run(CoordinatorApplication.class, springArgs);
            return STARTED;
        }), args, System.out, System.err);
        if (status != STARTED) {
            System.exit(status);
        }
    }
}
