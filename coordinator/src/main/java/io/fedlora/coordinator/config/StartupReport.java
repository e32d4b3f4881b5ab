package io.fedlora.coordinator.config;

import io.fedlora.coordinator.admin.AdminApiKey;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.event.EventListener;
import org.springframework.core.env.Environment;
import org.springframework.stereotype.Component;

/** One line at startup saying where everything is: ports, data directory, database, API key file. */
@Component
class StartupReport {

    private static final Logger log = LoggerFactory.getLogger(StartupReport.class);

    private final Environment env;
    private final FedloraProperties properties;
    private final AdminApiKey apiKey;

    StartupReport(Environment env, FedloraProperties properties, AdminApiKey apiKey) {
        this.env = env;
        this.properties = properties;
        this.apiKey = apiKey;
    }

    @EventListener(ApplicationReadyEvent.class)
    void report() {
        String url = env.getProperty("spring.datasource.url");
        String db = url == null || url.isBlank()
                ? "embedded PostgreSQL under " + properties.dataDir().toAbsolutePath().normalize().resolve("postgres")
                : "PostgreSQL at " + url.replaceAll("password=[^&;]*", "password=***");
        log.info("fedlora coordinator ready: REST on port {}, gRPC on port {}, data dir {}, database {}, admin API key from {}",
                env.getProperty("local.server.port", env.getProperty("server.port", "8080")),
                env.getProperty("local.grpc.server.port", env.getProperty("spring.grpc.server.port", "9090")),
                properties.dataDir().toAbsolutePath().normalize(), db, apiKey.source());
    }
}
