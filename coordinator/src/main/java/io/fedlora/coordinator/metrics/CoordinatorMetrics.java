package io.fedlora.coordinator.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.springframework.stereotype.Component;

/**
 * The coordinator's Micrometer meters (served on {@code /actuator/prometheus}): rounds by outcome,
 * updates accepted and rejected by reason, bytes in and out, aggregation time, and the last
 * exactness error and FedAvg deviation per federation.
 */
@Component
public class CoordinatorMetrics {

    private final MeterRegistry registry;
    private final Map<String, AtomicLong> exactness = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> deviation = new ConcurrentHashMap<>();

    public CoordinatorMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    public void roundEnded(String outcome) {
        Counter.builder("fedlora.rounds").description("Round attempts by outcome").tag("outcome", outcome)
                .register(registry).increment();
    }

    public void updateAccepted(long bytes) {
        Counter.builder("fedlora.updates.accepted").description("Client updates durably stored").register(registry).increment();
        bytesIn(bytes);
    }

    public void updateRejected(String reason) {
        Counter.builder("fedlora.updates.rejected").description("Client updates refused, by reason").tag("reason", reason)
                .register(registry).increment();
    }

    public void bytesIn(long bytes) {
        Counter.builder("fedlora.bytes.in").baseUnit("bytes").description("Tensor bytes received from clients")
                .register(registry).increment(bytes);
    }

    public void bytesOut(long bytes) {
        Counter.builder("fedlora.bytes.out").baseUnit("bytes").description("Model bytes offered to clients")
                .register(registry).increment(bytes);
    }

    public void aggregated(String federationId, Duration took, double exactnessRelError, double fedavgDeviationRel) {
        Timer.builder("fedlora.aggregation.time").description("Time to aggregate a round").register(registry).record(took);
        gauge("fedlora.aggregation.exactness_rel_error", "Relative exactness error of the last aggregation",
                exactness, federationId).set(Double.doubleToRawLongBits(exactnessRelError));
        gauge("fedlora.aggregation.fedavg_deviation_rel", "Relative deviation FedAvg would have had in the last round",
                deviation, federationId).set(Double.doubleToRawLongBits(fedavgDeviationRel));
    }

    private AtomicLong gauge(String name, String description, Map<String, AtomicLong> holders, String federationId) {
        return holders.computeIfAbsent(federationId, id -> {
            AtomicLong bits = new AtomicLong(Double.doubleToRawLongBits(Double.NaN));
            Gauge.builder(name, bits, b -> Double.longBitsToDouble(b.get())).description(description)
                    .tag("federation", id).register(registry);
            return bits;
        });
    }
}
