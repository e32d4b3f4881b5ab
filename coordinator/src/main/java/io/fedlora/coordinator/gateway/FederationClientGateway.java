package io.fedlora.coordinator.gateway;

import io.fedlora.coordinator.clientapi.AuthenticatedClient;
import io.fedlora.coordinator.clientapi.ClientGateway;
import io.fedlora.coordinator.clientapi.ClientTask;
import io.fedlora.coordinator.clientapi.DecodedTensor;
import io.fedlora.coordinator.clientapi.Enrolment;
import io.fedlora.coordinator.clientapi.EvaluationInfo;
import io.fedlora.coordinator.clientapi.ModelBundle;
import io.fedlora.coordinator.clientapi.UpdateHeaderInfo;
import io.fedlora.coordinator.clientapi.UploadReceiptInfo;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.springframework.stereotype.Service;

/**
 * The federation side of the client API, as one {@link ClientGateway} for the transport: each call is
 * delegated to the feature service that owns it (enrolment, heartbeats, tasks, downloads, uploads,
 * evaluations), so each of those stays small and testable on its own.
 */
@Service
public class FederationClientGateway implements ClientGateway {

    private final EnrolmentService enrolment;
    private final HeartbeatService heartbeats;
    private final TaskPolls tasks;
    private final DownloadService downloads;
    private final UploadService uploads;
    private final EvaluationService evaluations;

    public FederationClientGateway(EnrolmentService enrolment, HeartbeatService heartbeats, TaskPolls tasks,
            DownloadService downloads, UploadService uploads, EvaluationService evaluations) {
        this.enrolment = enrolment;
        this.heartbeats = heartbeats;
        this.tasks = tasks;
        this.downloads = downloads;
        this.uploads = uploads;
        this.evaluations = evaluations;
    }

    @Override
    public Enrolment enrol(String enrolmentToken, String clientName, Map<String, String> labels) {
        return enrolment.enrol(enrolmentToken, clientName, labels);
    }

    @Override
    public AuthenticatedClient authenticate(String credential) {
        return enrolment.authenticate(credential);
    }

    @Override
    public void heartbeat(AuthenticatedClient client, String state, long cachedModelVersion, String device) {
        heartbeats.heartbeat(client, state, cachedModelVersion, device);
    }

    @Override
    public CompletableFuture<Optional<ClientTask>> startTaskPoll(AuthenticatedClient client, long cachedModelVersion,
            Duration maxWait) {
        return tasks.start(client, cachedModelVersion, maxWait);
    }

    @Override
    public ModelBundle modelBundle(AuthenticatedClient client, String federationId, long version, long haveVersion) {
        return downloads.modelBundle(client, federationId, version, haveVersion);
    }

    @Override
    public ModelBundle modelManifest(AuthenticatedClient client, String federationId, long version, long haveVersion) {
        return downloads.describe(client, federationId, version, haveVersion);
    }

    @Override
    public Optional<UploadReceiptInfo> checkUpload(AuthenticatedClient client, UpdateHeaderInfo header) {
        return uploads.check(client, header);
    }

    @Override
    public UploadReceiptInfo acceptUpload(AuthenticatedClient client, UpdateHeaderInfo header, String uploadSha256,
            Map<String, DecodedTensor> tensors) {
        return uploads.accept(client, header, uploadSha256, tensors);
    }

    @Override
    public boolean recordEvaluation(AuthenticatedClient client, EvaluationInfo evaluation) {
        return evaluations.record(client, evaluation);
    }
}
