package io.fedlora.coordinator.grpc;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import org.springframework.stereotype.Component;

/**
 * Transport counters: {@code fedlora.grpc.bytes} (tag {@code direction} = in | out, serialized message
 * bytes of the Federation service) and {@code fedlora.updates.rejected} (tag {@code reason}) for the
 * uploads the transport itself refuses (malformed stream, checksum, size); refusals raised by the
 * {@code ClientGateway} are counted there, under the same meter name, with the gateway's reasons.
 */
@Component
public class GrpcMetrics {

    static final String BYTES = "fedlora.grpc.bytes";
    static final String REJECTED = "fedlora.updates.rejected";

    private final MeterRegistry registry;
    private final Counter bytesIn;
    private final Counter bytesOut;

    public GrpcMetrics(MeterRegistry registry) {
        this.registry = registry;
        this.bytesIn = Counter.builder(BYTES).tag("direction", "in").baseUnit("bytes")
                .description("Serialized gRPC message bytes received from agents").register(registry);
        this.bytesOut = Counter.builder(BYTES).tag("direction", "out").baseUnit("bytes")
                .description("Serialized gRPC message bytes sent to agents").register(registry);
    }

    public void bytesIn(long n) {
        bytesIn.increment(n);
    }

    public void bytesOut(long n) {
        bytesOut.increment(n);
    }

    /** Counts one refused upload; {@code reason} is a short stable tag such as {@code checksum}. */
    public void uploadRejected(String reason) {
        Counter.builder(REJECTED).tag("reason", reason)
                .description("Uploads refused by the coordinator, by reason").register(registry).increment();
    }
}
