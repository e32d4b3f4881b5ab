package io.fedlora.coordinator.gateway;

import io.fedlora.coordinator.clientapi.AuthenticatedClient;
import io.fedlora.coordinator.clientapi.ClientApiException;
import io.fedlora.coordinator.clientapi.ClientApiException.Kind;
import io.fedlora.coordinator.clientapi.ModelBundle;
import io.fedlora.coordinator.metrics.CoordinatorMetrics;
import io.fedlora.coordinator.model.ModelVersion;
import io.fedlora.coordinator.model.ModelVersionRepository;
import io.fedlora.coordinator.round.RoundRepository;
import org.springframework.stereotype.Service;

/**
 * Which tensors a client must download to hold a published version: a delta from the version it has when
 * that version is published (its residual from the version right before, else the adapted layers' weights), else the
 * full state; the bytes are counted against the live round.
 */
@Service
public class DownloadService {

    private final ModelVersionRepository versions;
    private final ModelBundleBuilder bundles;
    private final RoundRepository rounds;
    private final CoordinatorMetrics metrics;

    public DownloadService(ModelVersionRepository versions, ModelBundleBuilder bundles, RoundRepository rounds,
            CoordinatorMetrics metrics) {
        this.versions = versions;
        this.bundles = bundles;
        this.rounds = rounds;
        this.metrics = metrics;
    }

    public ModelBundle modelBundle(AuthenticatedClient client, String federationId, long version, long haveVersion) {
        ModelBundle bundle = describe(client, federationId, version, haveVersion);
        metrics.bytesOut(bundle.totalBytes());
        rounds.live(federationId).ifPresent(r -> rounds.addBytesDown(r.id(), bundle.totalBytes()));
        return bundle;
    }

    /** The bundle {@link #modelBundle} would send, for its manifest only: nothing is counted as sent. */
    public ModelBundle describe(AuthenticatedClient client, String federationId, long version, long haveVersion) {
        Ownership.require(client, federationId);
        ModelVersion v = versions.find(federationId, version).orElseThrow(() -> new ClientApiException(Kind.NOT_FOUND,
                "federation " + federationId + " has no published version " + version));
        if (haveVersion == version || version >= 1 && haveVersion == version - 1) {
            return bundles.delta(v, haveVersion);
        }
        // every version shares the base's other tensors and files: from any published version only the adapted
        // layers differ (an agent that installed the base from its own disk holds version 0)
        if (haveVersion >= 0 && versions.find(federationId, haveVersion).isPresent()) {
            return bundles.adaptedLayers(v, haveVersion);
        }
        return bundles.full(v);
    }
}
