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
 * one can be built, else the full state; the bytes are counted against the live round.
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
        Ownership.require(client, federationId);
        ModelVersion v = versions.find(federationId, version).orElseThrow(() -> new ClientApiException(Kind.NOT_FOUND,
                "federation " + federationId + " has no published version " + version));
        boolean delta = version >= 1 && haveVersion == version - 1 || haveVersion == version;
        ModelBundle bundle = delta ? bundles.delta(v, haveVersion) : bundles.full(v);
        metrics.bytesOut(bundle.totalBytes());
        rounds.live(federationId).ifPresent(r -> rounds.addBytesDown(r.id(), bundle.totalBytes()));
        return bundle;
    }
}
