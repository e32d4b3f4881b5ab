package io.fedlora.agent.daemon.upload;

import io.fedlora.agent.daemon.transport.CoordinatorClient;
import io.fedlora.agent.daemon.transport.Retrier;
import io.fedlora.proto.v1.UploadReceipt;
import io.grpc.StatusRuntimeException;
import io.fedlora.aggregation.lora.WeightLayout;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers a trained update at least once and, thanks to the coordinator's idempotency on
 * {@code (client, round, upload_id)}, effectively once: the update is persisted before the first attempt,
 * retried with backoff while the coordinator is away, and removed once it is accepted or refused.
 */
public final class UpdateUploader {

    /** The protocol's ceiling on one TensorData chunk. */
    public static final int MAX_CHUNK_BYTES = 1 << 20;
    private static final Logger log = LoggerFactory.getLogger(UpdateUploader.class);

    private final CoordinatorClient client;
    private final PendingUploadStore store;
    private final int chunkBytes;

    public UpdateUploader(CoordinatorClient client, PendingUploadStore store) {
        this(client, store, MAX_CHUNK_BYTES);
    }

    UpdateUploader(CoordinatorClient client, PendingUploadStore store, int chunkBytes) {
        if (chunkBytes > MAX_CHUNK_BYTES) {
            throw new IllegalArgumentException("chunks may not exceed " + MAX_CHUNK_BYTES + " bytes");
        }
        this.client = client;
        this.store = store;
        this.chunkBytes = chunkBytes;
    }

    /** An update ready to be persisted: tensor metadata without hashes, values in fp32. */
    public record Update(String uploadId, String federationId, int round, long baseModelVersion, long numExamples,
                         Map<String, Double> metrics, List<Item> tensors) {}

    /**
     * A tensor of an update, as the task's {@code expected_update} names it; {@code layout} is the layout of the
     * module's base weight in this agent's model family, declared in the upload header.
     */
    public record Item(String name, String module, String role, String dtype, WeightLayout layout, INDArray values) {}

    /** Persists {@code update} (replacing any older pending one) and sends it. */
    public UploadOutcome upload(Update update) throws IOException, InterruptedException {
        return upload(update, CoordinatorClient.UploadListener.NONE);
    }

    /** As above, telling {@code listener} when the coordinator queues and admits it. */
    public UploadOutcome upload(Update update, CoordinatorClient.UploadListener listener)
            throws IOException, InterruptedException {
        List<PendingUpload.Tensor> metas = new ArrayList<>();
        Map<String, INDArray> values = new LinkedHashMap<>();
        for (Item item : update.tensors()) {
            byte[] bytes = WireTensors.encode(item.values(), item.dtype());
            metas.add(new PendingUpload.Tensor(item.name(), item.module(), item.role(), item.dtype(),
                    item.values().shape(), WireTensors.sha256Hex(bytes), bytes.length, item.layout()));
            values.put(item.name(), item.values());
        }
        PendingUpload pending = new PendingUpload(update.uploadId(), update.federationId(), update.round(),
                update.baseModelVersion(), update.numExamples(), update.metrics(), metas);
        store.save(pending, values);
        return send(pending, listener);
    }

    /** Sends an update a previous run left pending, if there is one. */
    public Optional<UploadOutcome> resumePending() throws InterruptedException {
        Optional<PendingUpload> pending = store.load();
        if (pending.isEmpty()) {
            return Optional.empty();
        }
        log.info("resuming pending upload {} for round {}", pending.get().uploadId(), pending.get().round());
        return Optional.of(send(pending.get(), CoordinatorClient.UploadListener.NONE));
    }

    public boolean hasPending() {
        return store.load().isPresent();
    }

    private UploadOutcome send(PendingUpload pending, CoordinatorClient.UploadListener listener)
            throws InterruptedException {
        String what = "Upload round " + pending.round() + " (upload " + pending.uploadId() + ")";
        try {
            UploadReceipt receipt = client.upload(what, () -> new UpdateChunks(pending, store, chunkBytes), listener);
            store.clear();
            log.info("update for round {} accepted as {}{} ({} bytes)", pending.round(), receipt.getUpdateId(),
                    receipt.getDuplicate() ? " (duplicate of an earlier attempt)" : "", receipt.getBytesReceived());
            return new UploadOutcome(UploadOutcome.Kind.ACCEPTED, receipt.getUpdateId());
        } catch (StatusRuntimeException e) {
            String reason = Retrier.describe(e.getStatus());
            if (Retrier.isRetryable(e.getStatus())) {
                log.warn("update for round {} not delivered yet ({}); kept on disk for a later attempt", pending.round(), reason);
                return new UploadOutcome(UploadOutcome.Kind.PENDING, reason);
            }
            log.error("coordinator rejected the update for round {}: {}; dropping it", pending.round(), reason);
            store.clear();
            return new UploadOutcome(UploadOutcome.Kind.REJECTED, reason);
        }
    }
}
