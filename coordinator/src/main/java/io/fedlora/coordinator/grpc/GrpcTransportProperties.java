package io.fedlora.coordinator.grpc;

import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;

/**
 * Limits of the client-facing gRPC transport ({@code fedlora.grpc.*}). They bound what one agent can
 * make the coordinator hold: upload bytes in memory, long polls waiting (no thread each), chunk sizes.
 *
 * @param maxUploadBytes    largest update one upload may declare or send (default 512 MiB)
 * @param maxPollWait       cap on a GetTask long poll, whatever {@code wait_ms} the agent asks for
 * @param maxWaitingPolls   long polls that may wait at once (they hold memory, not threads); more are refused
 * @param handlerThreads    threads that run the service's handlers (a fixed pool; more work queues)
 * @param heartbeatThreads  threads that run Heartbeat calls only, so a heartbeat never queues behind other work
 * @param maxConcurrentDownloads model downloads streaming at once; more wait their turn (slowed, not refused)
 * @param maxConcurrentUploads uploads receiving their data at once; more wait their turn after their header,
 *                          held back by flow control (slowed, not refused)
 * @param maxUploadBytesInFlight declared bytes the uploads receiving at once may hold together (one larger upload
 *                          is admitted alone)
 * @param inboundWindow     HTTP/2 flow-control window for what each client sends (per stream and per connection):
 *                          larger windows upload faster over long round trips (window / RTT per upload); an upload
 *                          on the Upload call sends nothing before it is admitted, but one on the older UploadUpdate
 *                          call can make the coordinator buffer this much while it waits
 * @param chunkBytes        bytes per TensorData chunk sent to agents (at most 1 MiB, the protocol's limit)
 * @param heartbeatInterval interval suggested to agents in HeartbeatResponse
 */
@ConfigurationProperties("fedlora.grpc")
public record GrpcTransportProperties(
        @DefaultValue("512MB") DataSize maxUploadBytes,
        @DefaultValue("30s") Duration maxPollWait,
        @DefaultValue("20000") int maxWaitingPolls,
        @DefaultValue("16") int handlerThreads,
        @DefaultValue("2") int heartbeatThreads,
        @DefaultValue("32") int maxConcurrentDownloads,
        @DefaultValue("8") int maxConcurrentUploads,
        @DefaultValue("64MB") DataSize maxUploadBytesInFlight,
        @DefaultValue("1MB") DataSize inboundWindow,
        @DefaultValue("1MB") DataSize chunkBytes,
        @DefaultValue("10s") Duration heartbeatInterval) {

    /** The protocol's upper bound on one TensorData chunk. */
    public static final int MAX_CHUNK_BYTES = 1 << 20;

    public GrpcTransportProperties {
        if (maxUploadBytes.toBytes() <= 0) {
            throw new IllegalArgumentException("fedlora.grpc.max-upload-bytes must be positive");
        }
        if (maxPollWait.isNegative() || maxPollWait.isZero()) {
            throw new IllegalArgumentException("fedlora.grpc.max-poll-wait must be positive");
        }
        if (maxWaitingPolls < 1) {
            throw new IllegalArgumentException("fedlora.grpc.max-waiting-polls must be >= 1");
        }
        if (handlerThreads < 1) {
            throw new IllegalArgumentException("fedlora.grpc.handler-threads must be >= 1");
        }
        if (maxConcurrentDownloads < 1) {
            throw new IllegalArgumentException("fedlora.grpc.max-concurrent-downloads must be >= 1");
        }
        if (maxConcurrentUploads < 1) {
            throw new IllegalArgumentException("fedlora.grpc.max-concurrent-uploads must be >= 1");
        }
        if (maxUploadBytesInFlight.toBytes() < 1) {
            throw new IllegalArgumentException("fedlora.grpc.max-upload-bytes-in-flight must be positive");
        }
        if (inboundWindow.toBytes() < 1024 || inboundWindow.toBytes() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("fedlora.grpc.inbound-window must be within 1 KiB .. 2 GiB");
        }
        if (heartbeatThreads < 1) {
            throw new IllegalArgumentException("fedlora.grpc.heartbeat-threads must be >= 1");
        }
        if (chunkBytes.toBytes() < 1 || chunkBytes.toBytes() > MAX_CHUNK_BYTES) {
            throw new IllegalArgumentException("fedlora.grpc.chunk-bytes must be within 1 B .. 1 MiB");
        }
    }
}
