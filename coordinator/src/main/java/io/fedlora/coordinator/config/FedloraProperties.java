package io.fedlora.coordinator.config;

import java.nio.file.Path;
import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;

/** Coordinator settings under {@code fedlora.*}; everything durable lives under {@link #dataDir()}. */
@ConfigurationProperties("fedlora")
public record FedloraProperties(
        @DefaultValue("./.fedlora/coordinator") Path dataDir,
        @DefaultValue Admin admin,
        @DefaultValue Scheduler scheduler) {

    /** Admin API key; when blank, one is generated into the data directory. */
    public record Admin(String apiKey) {
        /** Says only whether a key is set: properties are printed by binders, actuator and debuggers. */
        @Override
        public String toString() {
            return "Admin[apiKey=" + (apiKey == null || apiKey.isBlank() ? "<generated>" : "***") + "]";
        }
    }

    /**
     * Scheduler timing: {@code tick} between passes over running federations, how recent a heartbeat
     * must be for a client to be selected, the longest a task poll is held, and the threads that check waiting
     * polls for work when their federation changes (no thread waits with a poll; these only run the checks), and how
     * often heartbeats, kept in memory as they arrive, are written to the database in one batch.
     */
    public record Scheduler(
            @DefaultValue("200ms") Duration tick,
            @DefaultValue("60s") Duration heartbeatTimeout,
            @DefaultValue("30s") Duration maxPollWait,
            @DefaultValue("4") int pollCheckThreads,
            @DefaultValue("250ms") Duration heartbeatFlush) {

        public Scheduler {
            if (pollCheckThreads < 1) {
                throw new IllegalArgumentException("fedlora.scheduler.poll-check-threads must be >= 1");
            }
            if (heartbeatFlush.isNegative() || heartbeatFlush.isZero()) {
                throw new IllegalArgumentException("fedlora.scheduler.heartbeat-flush must be positive");
            }
        }
    }

    public Path blobDir() {
        return dataDir.resolve("blobs");
    }
}
