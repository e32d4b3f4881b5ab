package io.fedlora.coordinator.config;

import java.time.Clock;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The coordinator's one source of wall-clock time. Deadlines and expiries (round and evaluation deadlines,
 * enrolment token expiry) are compared against this bean rather than {@code Instant.now()}, so tests can
 * replace it with a controllable clock and check them without sleeping.
 */
@Configuration(proxyBeanMethods = false)
public class ClockConfiguration {

    @Bean
    public Clock clock() {
        return Clock.systemUTC();
    }
}
