package io.fedlora.coordinator.gateway;

import io.fedlora.aggregation.safetensors.TensorData;
import io.fedlora.coordinator.blob.BlobRepository;
import io.fedlora.coordinator.blob.BlobStore;
import io.fedlora.coordinator.blob.StoredBlob;
import io.fedlora.coordinator.clientapi.AuthenticatedClient;
import io.fedlora.coordinator.clientapi.ClientApiException.Kind;
import io.fedlora.coordinator.clientapi.DecodedTensor;
import io.fedlora.coordinator.clientapi.TensorSpec;
import io.fedlora.coordinator.clientapi.UpdateHeaderInfo;
import io.fedlora.coordinator.clientapi.UploadReceiptInfo;
import io.fedlora.coordinator.federation.FederationRepository;
import io.fedlora.coordinator.metrics.CoordinatorMetrics;
import io.fedlora.coordinator.round.AcceptedUpdate;
import io.fedlora.coordinator.round.AcceptedUpdateListener;
import io.fedlora.coordinator.round.ParticipantRepository;
import io.fedlora.coordinator.round.Signals;
import io.fedlora.coordinator.round.StoredUpdate;
import io.fedlora.coordinator.round.UpdateRepository;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.stereotype.Service;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Update intake. An update is written to the blob store (fsynced) before its row commits, and only then
 * acknowledged; a rejected update changes nothing stored. Once committed, every
 * {@link AcceptedUpdateListener} is told (the round folds it in as it arrives).
 */
@Service
public class UploadService {

    private static final Logger log = LoggerFactory.getLogger(UploadService.class);

    private final UploadTargets targets;
    private final FederationRepository federations;
    private final UpdateRepository updates;
    private final ParticipantRepository participants;
    private final BlobStore blobs;
    private final BlobRepository blobRows;
    private final Signals signals;
    private final CoordinatorMetrics metrics;
    private final TransactionTemplate tx;
    private final ObjectProvider<AcceptedUpdateListener> listeners;

    UploadService(UploadTargets targets, FederationRepository federations, UpdateRepository updates,
            ParticipantRepository participants, BlobStore blobs, BlobRepository blobRows, Signals signals,
            CoordinatorMetrics metrics, TransactionTemplate tx, ObjectProvider<AcceptedUpdateListener> listeners) {
        this.targets = targets;
        this.federations = federations;
        this.updates = updates;
        this.participants = participants;
        this.blobs = blobs;
        this.blobRows = blobRows;
        this.signals = signals;
        this.metrics = metrics;
        this.tx = tx;
        this.listeners = listeners;
    }

    /** Checks a header before its data arrives; the earlier receipt if this upload id was already accepted. */
    public Optional<UploadReceiptInfo> check(AuthenticatedClient client, UpdateHeaderInfo header) {
        try {
            return Optional.ofNullable(examine(client, header).retried()).map(u -> receipt(u, true));
        } catch (UploadRules.Rejection e) {
            metrics.updateRejected(e.tag());
            throw e;
        }
    }

    /** Validates and durably stores a complete update; idempotent per (client, round, upload id). */
    public UploadReceiptInfo accept(AuthenticatedClient client, UpdateHeaderInfo header, String uploadSha256,
            Map<String, DecodedTensor> tensors) {
        try {
            TargetOrRetry checked = examine(client, header);
            if (checked.retried() != null) {
                return receipt(checked.retried(), true);
            }
            // the target just checked: checking it again here would refuse a retry of this upload that committed
            // meanwhile as ALREADY_EXISTS instead of answering it as the duplicate it is
            UploadTargets.Target t = checked.target();
            UploadRules.checkValues(tensors, t.expected(), t.federation().spec().maxUpdateNorm());
            List<TensorData> data = new ArrayList<>();
            for (TensorSpec spec : t.expected()) {
                data.add(TensorData.of(spec.name(), tensors.get(spec.name()).values(), spec.dtype()));
            }
            UploadReceiptInfo receipt;
            StoredUpdate update;
            long bytes = UploadRules.byteSize(t.expected());
            try (BlobStore.Pending pending = blobs.putSafetensorsPending(data,
                    Map.of("client", client.clientId(), "upload", header.uploadId()))) {
                StoredBlob blob = pending.blob();
                update = new StoredUpdate(UUID.randomUUID().toString(), t.round().id(), client.clientId(),
                        header.uploadId(), blob.sha256(), uploadSha256, header.numExamples(), header.baseModelVersion(),
                        bytes, new LinkedHashMap<>(Ownership.finiteMetrics(header.metrics())), "ACCEPTED", null);
                try {
                    receipt = tx.execute(s -> {
                        federations.lock(t.federation().id());
                        TargetOrRetry now = examine(client, header);
                        if (now.retried() != null) {
                            return receipt(now.retried(), true);
                        }
                        UploadTargets.Target again = now.target();
                        if (again.round().id() != t.round().id()) {
                            throw new UploadRules.Rejection(Kind.FAILED_PRECONDITION, "round_closed", "round "
                                    + header.round() + " was restarted (attempt " + again.round().attempt()
                                    + ") while the update was stored; train again for the new attempt");
                        }
                        blobRows.register(blob);
                        updates.insert(update);
                        participants.markReported(t.round().id(), client.clientId());
                        signals.wakeScheduler();
                        return receipt(update, false);
                    });
                } catch (RuntimeException e) {
                    discardUnreferenced(pending);
                    throw e;
                }
                if (receipt.duplicate()) {
                    discardUnreferenced(pending);
                }
            }
            if (!receipt.duplicate()) {
                metrics.updateAccepted(bytes);
                log.info("update {} from client {} for round {} of federation {} accepted ({} examples, {} bytes)",
                        update.id(), client.clientName(), header.round(), header.federationId(), header.numExamples(), bytes);
                announce(new AcceptedUpdate(t.federation().id(), t.round().id(), t.round().number(), update, data));
            }
            return receipt;
        } catch (UploadRules.Rejection e) {
            metrics.updateRejected(e.tag());
            log.info("update from client {} for round {} rejected: {}", client.clientName(), header.round(), e.getMessage());
            throw e;
        }
    }

    /**
     * Removes the blob just written for an update that was not recorded (a racing upload won, the round closed
     * meanwhile), unless a committed row references it or a concurrent writer of the same bytes holds it: blob
     * names are content hashes, and the blob of an idempotent retry is the very file the first upload references
     * (or is about to: {@link BlobStore.Pending} keeps the file while that upload's transaction runs).
     */
    private void discardUnreferenced(BlobStore.Pending pending) {
        try {
            pending.discardUnless(blobRows::isRegistered);
        } catch (RuntimeException e) {
            log.warn("could not remove the unreferenced blob {} (the startup sweep will): {}", pending.blob().sha256(),
                    e.toString());
        }
    }

    private void announce(AcceptedUpdate accepted) {
        listeners.orderedStream().forEach(l -> {
            try {
                l.updateAccepted(accepted);
            } catch (RuntimeException e) {
                log.warn("listener {} failed on accepted update {} (the update stays accepted): {}",
                        l.getClass().getSimpleName(), accepted.update().id(), e.toString());
            }
        });
    }

    /** The checked target of an upload that may go on, or the update of a retry of it that won the race. */
    private record TargetOrRetry(UploadTargets.Target target, StoredUpdate retried) {}

    /**
     * The update already accepted under this upload id (an idempotent retry), else the checked target of an upload
     * that may go on.
     */
    private TargetOrRetry examine(AuthenticatedClient client, UpdateHeaderInfo header) {
        Optional<StoredUpdate> earlier = targets.earlier(client, header);
        return earlier.isPresent() ? new TargetOrRetry(null, earlier.get()) : targetOrRacedRetry(client, header);
    }

    /**
     * Checks the target. A retry of this very upload that committed between {@code earlier} and this check (the
     * client's row then says REPORTED) is that update, a duplicate, not a refusal.
     */
    private TargetOrRetry targetOrRacedRetry(AuthenticatedClient client, UpdateHeaderInfo header) {
        try {
            return new TargetOrRetry(targets.target(client, header), null);
        } catch (UploadRules.Rejection e) {
            Optional<StoredUpdate> raced = "already_reported".equals(e.tag()) ? targets.earlier(client, header)
                    : Optional.empty();
            if (raced.isPresent()) {
                return new TargetOrRetry(null, raced.get());
            }
            throw e;
        }
    }

    private static UploadReceiptInfo receipt(StoredUpdate u, boolean duplicate) {
        return new UploadReceiptInfo(u.id(), duplicate, u.bytesReceived());
    }
}
