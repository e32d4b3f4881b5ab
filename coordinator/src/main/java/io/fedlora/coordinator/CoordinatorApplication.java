package io.fedlora.coordinator;

import io.fedlora.coordinator.config.FedloraProperties;
import java.util.ArrayList;
import java.util.List;
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

    public static void main(String[] args) {
        SpringApplication.run(CoordinatorApplication.class, translateArgs(args));
    }

    /** Maps the launcher's {@code --data-dir DIR} / {@code --data-dir=DIR} to {@code --fedlora.data-dir=DIR}. */
    static String[] translateArgs(String[] args) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--data-dir")) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException("--data-dir needs a directory");
                }
                out.add("--fedlora.data-dir=" + args[++i]);
            } else if (a.startsWith("--data-dir=")) {
                out.add("--fedlora.data-dir=" + a.substring("--data-dir=".length()));
            } else {
                out.add(a);
            }
        }
        return out.toArray(String[]::new);
    }
}
