package io.fedlora.coordinator.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.springframework.stereotype.Component;

/**
 * The coordinator's Micrometer meters (served on {@code /actuator/prometheus}): rounds by outcome,
 * updates accepted and rejected by reason, bytes in and out, aggregation time, and the last
 * exactness error and FedAvg deviation per federation. The counters are registered at zero when the coordinator
 * starts, every rejection reason and round outcome included, so a dashboard or an alert on a rate sees a series
 * from the first scrape rather than only after the first event.
 */
@Component
public class CoordinatorMetrics {

    /** Every reason tag the gateway rejects an update with (UploadRules and FederationClientGateway). */
    public static final List<String> REJECTION_REASONS = List.of("bad_header", "wrong_federation",
            "federation_not_running", "round_closed", "not_selected", "wrong_base_version", "already_reported",
            "bad_examples", "too_many_examples", "tensor_mismatch", "layout_mismatch", "non_finite", "norm_exceeded", "unknown_federation", "unknown_round");

    /** Every outcome a round attempt ends with. */
    public static final List<String> ROUND_OUTCOMES = List.of("published", "retried", "failed");

    private final MeterRegistry registry;
    private final Map<String, AtomicLong> exactness = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> deviation = new ConcurrentHashMap<>();

    public CoordinatorMetrics(MeterRegistry registry) {
        this.registry = registry;
        ROUND_OUTCOMES.forEach(this::rounds);
        accepted();
        REJECTION_REASONS.forEach(this::rejected);
        bytesInCounter();
        bytesOutCounter();
    }

    public void roundEnded(String outcome) {
        rounds(outcome).increment();
    }

    public void updateAccepted(long bytes) {
        accepted().increment();
        bytesIn(bytes);
    }

    public void updateRejected(String reason) {
        rejected(reason).increment();
    }

    public void bytesIn(long bytes) {
        bytesInCounter().increment(bytes);
    }

    public void bytesOut(long bytes) {
        bytesOutCounter().increment(bytes);
    }

    private Counter rounds(String outcome) {
        return Counter.builder("fedlora.rounds").description("Round attempts by outcome").tag("outcome", outcome)
                .register(registry);
    }

    private Counter accepted() {
        return Counter.builder("fedlora.updates.accepted").description("Client updates durably stored").register(registry);
    }

    private Counter rejected(String reason) {
        return Counter.builder("fedlora.updates.rejected").description("Client updates refused, by reason")
                .tag("reason", reason).register(registry);
    }

    private Counter bytesInCounter() {
        return Counter.builder("fedlora.bytes.in").baseUnit("bytes").description("Tensor bytes received from clients")
                .register(registry);
    }

    private Counter bytesOutCounter() {
        return Counter.builder("fedlora.bytes.out").baseUnit("bytes").description("Model bytes offered to clients")
                .register(registry);
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
