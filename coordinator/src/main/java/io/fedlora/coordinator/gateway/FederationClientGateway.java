package io.fedlora.coordinator.gateway;

import io.fedlora.aggregation.safetensors.TensorData;
import io.fedlora.coordinator.blob.BlobRepository;
import io.fedlora.coordinator.blob.BlobStore;
import io.fedlora.coordinator.blob.StoredBlob;
import io.fedlora.coordinator.client.ClientRecord;
import io.fedlora.coordinator.client.ClientRepository;
import io.fedlora.coordinator.client.EnrolmentTokenRepository;
import io.fedlora.coordinator.client.Secrets;
import io.fedlora.coordinator.clientapi.AuthenticatedClient;
import io.fedlora.coordinator.clientapi.ClientApiException;
import io.fedlora.coordinator.clientapi.ClientApiException.Kind;
import io.fedlora.coordinator.clientapi.ClientGateway;
import io.fedlora.coordinator.clientapi.ClientTask;
import io.fedlora.coordinator.clientapi.DecodedTensor;
import io.fedlora.coordinator.clientapi.Enrolment;
import io.fedlora.coordinator.clientapi.EvaluationInfo;
import io.fedlora.coordinator.clientapi.ModelBundle;
import io.fedlora.coordinator.clientapi.TensorSpec;
import io.fedlora.coordinator.clientapi.TrainingPlanInfo;
import io.fedlora.coordinator.clientapi.UpdateHeaderInfo;
import io.fedlora.coordinator.clientapi.UploadReceiptInfo;
import io.fedlora.coordinator.config.FedloraProperties;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.federation.FederationModel;
import io.fedlora.coordinator.federation.FederationRepository;
import io.fedlora.coordinator.federation.FederationSpec;
import io.fedlora.coordinator.federation.FederationStatus;
import io.fedlora.coordinator.metrics.CoordinatorMetrics;
import io.fedlora.coordinator.model.ModelVersion;
import io.fedlora.coordinator.model.ModelVersionRepository;
import io.fedlora.coordinator.round.AcceptedUpdate;
import io.fedlora.coordinator.round.AcceptedUpdateListener;
import io.fedlora.coordinator.round.EvaluationRepository;
import io.fedlora.coordinator.round.ParticipantRepository;
import io.fedlora.coordinator.round.RoundRecord;
import io.fedlora.coordinator.round.RoundRepository;
import io.fedlora.coordinator.round.RoundStatus;
import io.fedlora.coordinator.round.Signals;
import io.fedlora.coordinator.round.StoredUpdate;
import io.fedlora.coordinator.round.UpdateRepository;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.stereotype.Service;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * The federation side of the client API: enrolment, authentication, task assignment (long poll
 * without busy waiting), model bundles, and update intake with every check of DESIGN.md "Bad input".
 * An update is written to the blob store (fsynced) before its row commits, and only then acknowledged;
 * a rejected update changes nothing stored.
 */
@Service
public class FederationClientGateway implements ClientGateway {

    private static final Logger log = LoggerFactory.getLogger(FederationClientGateway.class);

    private final FederationRepository federations;
    private final ClientRepository clients;
    private final EnrolmentTokenRepository tokens;
    private final RoundRepository rounds;
    private final ParticipantRepository participants;
    private final UpdateRepository updates;
    private final EvaluationRepository evaluations;
    private final ModelVersionRepository versions;
    private final ModelBundleBuilder bundles;
    private final BlobStore blobs;
    private final BlobRepository blobRows;
    private final Secrets secrets;
    private final Signals signals;
    private final CoordinatorMetrics metrics;
    private final FedloraProperties properties;
    private final TransactionTemplate tx;
    private final List<AcceptedUpdateListener> acceptedListeners;

    public FederationClientGateway(FederationRepository federations, ClientRepository clients,
            EnrolmentTokenRepository tokens, RoundRepository rounds, ParticipantRepository participants,
            UpdateRepository updates, EvaluationRepository evaluations, ModelVersionRepository versions,
            ModelBundleBuilder bundles, BlobStore blobs, BlobRepository blobRows, Secrets secrets, Signals signals,
            CoordinatorMetrics metrics, FedloraProperties properties, TransactionTemplate tx,
            List<AcceptedUpdateListener> acceptedListeners) {
        this.acceptedListeners = List.copyOf(acceptedListeners);
        this.federations = federations;
        this.clients = clients;
        this.tokens = tokens;
        this.rounds = rounds;
        this.participants = participants;
        this.updates = updates;
        this.evaluations = evaluations;
        this.versions = versions;
        this.bundles = bundles;
        this.blobs = blobs;
        this.blobRows = blobRows;
        this.secrets = secrets;
        this.signals = signals;
        this.metrics = metrics;
        this.properties = properties;
        this.tx = tx;
    }

    @Override
    public Enrolment enrol(String enrolmentToken, String clientName, Map<String, String> labels) {
        if (enrolmentToken == null || enrolmentToken.isBlank()) {
            throw new ClientApiException(Kind.UNAUTHENTICATED, "an enrolment token is required");
        }
        String name = clientName == null ? "" : clientName.strip();
        if (name.isEmpty() || name.length() > 200) {
            throw new ClientApiException(Kind.INVALID_ARGUMENT, "client_name must be 1 to 200 characters");
        }
        String credential = secrets.newSecret();
        String clientId = UUID.randomUUID().toString();
        String federationId;
        try {
            federationId = tx.execute(s -> {
                EnrolmentTokenRepository.UsableToken token = tokens.lockUsable(Secrets.hash(enrolmentToken))
                        .orElseThrow(() -> new ClientApiException(Kind.UNAUTHENTICATED,
                                "unknown, used, revoked or expired enrolment token"));
                Federation f = federations.lock(token.federationId()).orElseThrow();
                if (f.status().isTerminal()) {
                    throw new ClientApiException(Kind.FAILED_PRECONDITION, "federation " + f.id() + " is " + f.status());
                }
                if (clients.nameTaken(f.id(), name)) {
                    throw new ClientApiException(Kind.ALREADY_EXISTS,
                            "a client named '" + name + "' is already enrolled in federation " + f.id());
                }
                clients.insert(clientId, f.id(), name, labels == null ? Map.of() : labels, Secrets.hash(credential));
                tokens.consume(token.id(), clientId);
                signals.federationChanged(f.id());
                return f.id();
            });
        } catch (DataIntegrityViolationException e) {
            throw new ClientApiException(Kind.ALREADY_EXISTS, "a client named '" + name + "' is already enrolled");
        }
        log.info("client {} ('{}') enrolled in federation {}", clientId, name, federationId);
        return new Enrolment(clientId, credential, federationId);
    }

    @Override
    public AuthenticatedClient authenticate(String credential) {
        if (credential == null || credential.isBlank()) {
            throw new ClientApiException(Kind.UNAUTHENTICATED, "a bearer credential is required");
        }
        ClientRecord c = clients.byCredentialHash(Secrets.hash(credential))
                .orElseThrow(() -> new ClientApiException(Kind.UNAUTHENTICATED, "unknown credential"));
        if (c.revokedAt() != null) {
            throw new ClientApiException(Kind.PERMISSION_DENIED, "client " + c.id() + " was revoked at " + c.revokedAt());
        }
        return new AuthenticatedClient(c.id(), c.name(), c.federationId());
    }

    @Override
    public void heartbeat(AuthenticatedClient client, String state, long cachedModelVersion, String device) {
        clients.heartbeat(client.clientId(), blankToNull(state), cachedModelVersion >= 0 ? cachedModelVersion : null,
                blankToNull(device));
        signals.wakeScheduler();
    }

    @Override
    public Optional<ClientTask> pollTask(AuthenticatedClient client, long cachedModelVersion, Duration maxWait) {
        clients.heartbeat(client.clientId(), null, cachedModelVersion >= 0 ? cachedModelVersion : null, null);
        Duration cap = properties.scheduler().maxPollWait();
        long deadline = System.nanoTime() + Math.max(0, Math.min(maxWait.toNanos(), cap.toNanos()));
        while (true) {
            Optional<ClientTask> task = taskFor(client);
            if (task.isPresent()) {
                return task;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return Optional.empty();
            }
            CompletableFuture<Void> changed = signals.await(client.clientId(), client.federationId());
            try {
                task = taskFor(client);
                if (task.isPresent()) {
                    return task;
                }
                changed.get(left, TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                return Optional.empty();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return Optional.empty();
            } catch (ExecutionException e) {
                throw new IllegalStateException(e);
            } finally {
                signals.done(client.clientId(), changed);
            }
        }
    }

    /** The client's current work, if any (never blocks). */
    Optional<ClientTask> taskFor(AuthenticatedClient client) {
        Federation f = federations.find(client.federationId()).orElseThrow(
                () -> new ClientApiException(Kind.NOT_FOUND, "federation " + client.federationId() + " no longer exists"));
        if (f.status().isTerminal()) {
            String reason = switch (f.status()) {
                case COMPLETED -> "completed";
                case CANCELLED -> "cancelled" + suffix(f.statusReason());
                default -> "failed" + suffix(f.statusReason());
            };
            return Optional.of(new ClientTask(ClientTask.Kind.DONE, f.id(), f.currentRound(), -1, null, List.of(), 0,
                    reason, f.spec().maxUpdateNorm()));
        }
        if (f.status() != FederationStatus.RUNNING) {
            return Optional.empty();
        }
        Optional<RoundRecord> live = rounds.live(f.id());
        if (live.isEmpty()) {
            return Optional.empty();
        }
        RoundRecord r = live.get();
        if (r.status() == RoundStatus.COLLECTING && "SELECTED".equals(participants.status(r.id(), client.clientId()))) {
            FederationModel m = federations.model(f.id());
            return Optional.of(new ClientTask(ClientTask.Kind.TRAIN, f.id(), r.number(), r.baseVersion(), plan(f.spec()),
                    UploadRules.expected(m.layers(), f.spec().rank()), r.deadline().toEpochMilli(), null,
                    f.spec().maxUpdateNorm()));
        }
        if (r.status() == RoundStatus.EVALUATING
                && evaluations.status(r.id(), client.clientId()).filter("PENDING"::equals).isPresent()) {
            return Optional.of(new ClientTask(ClientTask.Kind.EVALUATE, f.id(), r.number(), r.number(), plan(f.spec()),
                    List.of(), r.evalDeadline().toEpochMilli(), null, f.spec().maxUpdateNorm()));
        }
        return Optional.empty();
    }

    private static TrainingPlanInfo plan(FederationSpec s) {
        FederationSpec.TrainingSpec t = s.training();
        return new TrainingPlanInfo(s.targetModules(), s.rank(), s.alpha(), s.useRslora(), s.strategy(), t.localEpochs(),
                t.localSteps(), t.batchSize(), t.learningRate(), t.weightDecay(), t.maxGradNorm(), t.seed(), t.maxSeqLen());
    }

    @Override
    public ModelBundle modelBundle(AuthenticatedClient client, String federationId, long version, long haveVersion) {
        requireOwnFederation(client, federationId);
        ModelVersion v = versions.find(federationId, version).orElseThrow(() -> new ClientApiException(Kind.NOT_FOUND,
                "federation " + federationId + " has no published version " + version));
        boolean delta = version >= 1 && haveVersion == version - 1 || haveVersion == version;
        ModelBundle bundle = delta ? bundles.delta(v, haveVersion) : bundles.full(v);
        metrics.bytesOut(bundle.totalBytes());
        rounds.live(federationId).ifPresent(r -> rounds.addBytesDown(r.id(), bundle.totalBytes()));
        return bundle;
    }

    /** Where an upload would go, once its header passed every check. */
    private record Target(Federation federation, RoundRecord round, List<TensorSpec> expected) {}

    @Override
    public Optional<UploadReceiptInfo> checkUpload(AuthenticatedClient client, UpdateHeaderInfo header) {
        try {
            Optional<StoredUpdate> earlier = earlier(client, header);
            if (earlier.isPresent()) {
                return Optional.of(receipt(earlier.get(), true));
            }
            target(client, header);
            return Optional.empty();
        } catch (UploadRules.Rejection e) {
            metrics.updateRejected(e.tag());
            throw e;
        }
    }

    @Override
    public UploadReceiptInfo acceptUpload(AuthenticatedClient client, UpdateHeaderInfo header, String uploadSha256,
            Map<String, DecodedTensor> tensors) {
        try {
            Optional<StoredUpdate> earlier = earlier(client, header);
            if (earlier.isPresent()) {
                return receipt(earlier.get(), true);
            }
            Target t = target(client, header);
            UploadRules.checkValues(tensors, t.expected(), t.federation().spec().maxUpdateNorm());
            List<TensorData> data = new ArrayList<>();
            for (TensorSpec spec : t.expected()) {
                data.add(TensorData.of(spec.name(), tensors.get(spec.name()).values(), spec.dtype()));
            }
            StoredBlob blob = blobs.putSafetensors(data, Map.of("client", client.clientId(), "upload", header.uploadId()));
            long bytes = UploadRules.byteSize(t.expected());
            StoredUpdate update = new StoredUpdate(UUID.randomUUID().toString(), t.round().id(), client.clientId(),
                    header.uploadId(), blob.sha256(), uploadSha256, header.numExamples(), header.baseModelVersion(), bytes,
                    new LinkedHashMap<>(finiteMetrics(header.metrics())), "ACCEPTED", null);
            UploadReceiptInfo receipt = tx.execute(s -> {
                federations.lock(t.federation().id());
                Optional<StoredUpdate> raced = earlier(client, header);
                if (raced.isPresent()) {
                    return receipt(raced.get(), true);
                }
                Target again = target(client, header);
                blobRows.register(blob);
                updates.insert(update);
                participants.markReported(again.round().id(), client.clientId());
                signals.wakeScheduler();
                return receipt(update, false);
            });
            if (!receipt.duplicate()) {
                AcceptedUpdate accepted = new AcceptedUpdate(t.federation().id(), t.round().id(), t.round().number(),
                        update, data);
                for (AcceptedUpdateListener l : acceptedListeners) {
                    try {
                        l.updateAccepted(accepted);
                    } catch (RuntimeException e) {
                        log.warn("listener {} failed on accepted update {}: {}", l.getClass().getSimpleName(),
                                update.id(), e.toString());
                    }
                }
                metrics.updateAccepted(bytes);
                log.info("update {} from client {} for round {} of federation {} accepted ({} examples, {} bytes)",
                        update.id(), client.clientName(), header.round(), header.federationId(), header.numExamples(), bytes);
            }
            return receipt;
        } catch (UploadRules.Rejection e) {
            metrics.updateRejected(e.tag());
            log.info("update from client {} for round {} rejected: {}", client.clientName(), header.round(), e.getMessage());
            throw e;
        }
    }

    private Optional<StoredUpdate> earlier(AuthenticatedClient client, UpdateHeaderInfo header) {
        if (header.uploadId() == null || header.uploadId().isBlank() || header.uploadId().length() > 200) {
            throw new UploadRules.Rejection(Kind.INVALID_ARGUMENT, "bad_header", "upload_id must be 1 to 200 characters");
        }
        if (!client.federationId().equals(header.federationId())) {
            throw new UploadRules.Rejection(Kind.PERMISSION_DENIED, "wrong_federation", "client " + client.clientId()
                    + " belongs to federation " + client.federationId() + ", not " + header.federationId());
        }
        return updates.findUpload(header.federationId(), header.round(), client.clientId(), header.uploadId());
    }

    private Target target(AuthenticatedClient client, UpdateHeaderInfo h) {
        Federation f = federations.find(h.federationId()).orElseThrow(() -> new UploadRules.Rejection(Kind.NOT_FOUND,
                "unknown_federation", "unknown federation " + h.federationId()));
        if (f.status() != FederationStatus.RUNNING) {
            throw new UploadRules.Rejection(Kind.FAILED_PRECONDITION, "federation_not_running",
                    "federation " + f.id() + " is " + f.status() + "; it accepts no updates");
        }
        RoundRecord r = rounds.current(f.id(), h.round()).orElseThrow(() -> new UploadRules.Rejection(Kind.NOT_FOUND,
                "unknown_round", "round " + h.round() + " of federation " + f.id() + " is not open"));
        String status = participants.status(r.id(), client.clientId());
        if (status == null) {
            throw new UploadRules.Rejection(Kind.PERMISSION_DENIED, "not_selected", "client " + client.clientName()
                    + " was not selected for round " + h.round() + " (attempt " + r.attempt() + ")");
        }
        if ("REPORTED".equals(status)) {
            String first = updates.accepted(r.id(), client.clientId()).map(StoredUpdate::uploadId).orElse("?");
            throw new UploadRules.Rejection(Kind.ALREADY_EXISTS, "already_reported", "an update (upload " + first
                    + ") was already accepted from this client for round " + h.round());
        }
        if (r.status() != RoundStatus.COLLECTING || !"SELECTED".equals(status)) {
            throw new UploadRules.Rejection(Kind.FAILED_PRECONDITION, "round_closed", "round " + h.round() + " is "
                    + r.status() + "; it no longer accepts updates");
        }
        if (h.numExamples() <= 0) {
            throw new UploadRules.Rejection(Kind.INVALID_ARGUMENT, "bad_examples",
                    "num_examples must be positive, got " + h.numExamples());
        }
        if (h.baseModelVersion() != r.baseVersion()) {
            throw new UploadRules.Rejection(Kind.INVALID_ARGUMENT, "wrong_base_version", "update was trained from version "
                    + h.baseModelVersion() + ", but round " + h.round() + " trains from version " + r.baseVersion());
        }
        List<TensorSpec> expected = UploadRules.expected(federations.model(f.id()).layers(), f.spec().rank());
        UploadRules.checkDeclared(h.tensors() == null ? List.of() : h.tensors(), expected);
        return new Target(f, r, expected);
    }

    private static UploadReceiptInfo receipt(StoredUpdate u, boolean duplicate) {
        return new UploadReceiptInfo(u.id(), duplicate, u.bytesReceived());
    }

    @Override
    public boolean recordEvaluation(AuthenticatedClient client, EvaluationInfo e) {
        requireOwnFederation(client, e.federationId());
        RoundRecord r = rounds.current(e.federationId(), e.round()).orElseThrow(() -> new ClientApiException(Kind.NOT_FOUND,
                "round " + e.round() + " of federation " + e.federationId() + " does not exist"));
        Optional<String> status = evaluations.status(r.id(), client.clientId());
        if (status.isEmpty()) {
            throw new ClientApiException(Kind.PERMISSION_DENIED, "no evaluation of round " + e.round() + " was asked of this client");
        }
        if (status.get().equals("REPORTED")) {
            return false;
        }
        if (!status.get().equals("PENDING") || r.status() != RoundStatus.EVALUATING) {
            throw new ClientApiException(Kind.FAILED_PRECONDITION, "the evaluation window of round " + e.round() + " has closed");
        }
        if (e.modelVersion() != r.number()) {
            throw new ClientApiException(Kind.INVALID_ARGUMENT, "round " + e.round() + " evaluates version " + r.number()
                    + ", not " + e.modelVersion());
        }
        if (e.numExamples() <= 0 || !Double.isFinite(e.loss()) || !Double.isFinite(e.accuracy())) {
            throw new ClientApiException(Kind.INVALID_ARGUMENT,
                    "an evaluation needs a positive example count and finite loss and accuracy");
        }
        boolean stored = Boolean.TRUE.equals(tx.execute(s -> {
            boolean ok = evaluations.report(r.id(), client.clientId(), e.numExamples(), e.loss(), e.accuracy(),
                    finiteMetrics(e.metrics()));
            signals.wakeScheduler();
            return ok;
        }));
        return stored;
    }

    private void requireOwnFederation(AuthenticatedClient client, String federationId) {
        if (!client.federationId().equals(federationId)) {
            throw new ClientApiException(Kind.PERMISSION_DENIED, "client " + client.clientId() + " belongs to federation "
                    + client.federationId() + ", not " + federationId);
        }
    }

    private static Map<String, Double> finiteMetrics(Map<String, Double> m) {
        Map<String, Double> out = new LinkedHashMap<>();
        if (m != null) {
            m.forEach((k, v) -> {
                if (v != null && Double.isFinite(v)) {
                    out.put(k, v);
                }
            });
        }
        return out;
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }

    private static String suffix(String reason) {
        return reason == null ? "" : ": " + reason;
    }
}
