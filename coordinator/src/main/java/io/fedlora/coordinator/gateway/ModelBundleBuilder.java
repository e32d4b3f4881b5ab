package io.fedlora.coordinator.gateway;

import io.fedlora.aggregation.lora.WeightLayout;
import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.aggregation.safetensors.TensorInfo;
import io.fedlora.coordinator.blob.BlobStore;
import io.fedlora.coordinator.clientapi.BundleEntry;
import io.fedlora.coordinator.clientapi.ModelBundle;
import io.fedlora.coordinator.clientapi.TensorRole;
import io.fedlora.coordinator.federation.FederationModel;
import io.fedlora.coordinator.federation.FederationRepository;
import io.fedlora.coordinator.model.LayerShape;
import io.fedlora.coordinator.model.ModelVersion;
import io.fedlora.coordinator.round.RoundAggregation;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.springframework.stereotype.Component;

/**
 * Describes what a client must download to hold a version: the full state (base tensors with the
 * version's folded target weights, the global adapter, the model directory's auxiliary files), the
 * delta from the previous version (each layer's residual, as factors or dense, plus the new adapter), or the delta
 * from any other version (the adapted layers' weights plus the new adapter).
 * Entries point into immutable blobs; bytes are read only when the transport streams them.
 */
@Component
public class ModelBundleBuilder {

    private final BlobStore blobs;
    private final FederationRepository federations;
    private final TensorDigests digests;

    public ModelBundleBuilder(BlobStore blobs, FederationRepository federations, TensorDigests digests) {
        this.blobs = blobs;
        this.federations = federations;
        this.digests = digests;
    }

    public ModelBundle full(ModelVersion v) {
        FederationModel m = federations.model(v.federationId());
        List<BundleEntry> entries = new ArrayList<>();
        Map<String, LayerShape> targets = new HashMap<>();
        m.layers().forEach(l -> targets.put(l.baseKey(), l));
        Path basePath = blobs.path(m.baseBlob());
        Path weightsPath = blobs.path(v.weightsBlob());
        try (SafetensorsReader base = SafetensorsReader.open(basePath);
             SafetensorsReader weights = SafetensorsReader.open(weightsPath)) {
            for (TensorInfo info : base.tensors().values()) {
                String key = info.name().startsWith(m.keyPrefix()) ? info.name().substring(m.keyPrefix().length()) : info.name();
                if (targets.containsKey(key)) {
                    entries.add(tensorEntry(key, TensorRole.BASE, weights, v.weightsBlob(), key, null, null, 0, null));
                } else {
                    entries.add(tensorEntry(key, TensorRole.BASE, base, m.baseBlob(), info.name(), null, null, 0, null));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read model blobs of federation " + v.federationId(), e);
        }
        entries.addAll(adapterEntries(v, m));
        for (Map.Entry<String, String> file : federations.files(v.federationId()).entrySet()) {
            Path p = blobs.path(file.getValue());
            long size = size(p);
            entries.add(new BundleEntry(file.getKey(), TensorRole.FILE, DType.U8, new long[] {size}, digests.file(file.getValue()),
                    size, null, null, 0, null, TensorSlice.file(p)));
        }
        return new ModelBundle(v.federationId(), v.version(), -1, List.copyOf(entries));
    }

    /** From {@code previous} (the version right before {@code v}, or {@code v} itself) to {@code v}. */
    public ModelBundle delta(ModelVersion v, long haveVersion) {
        FederationModel m = federations.model(v.federationId());
        List<BundleEntry> entries = new ArrayList<>();
        if (haveVersion == v.version() - 1 && v.residualBlob() != null) {
            try (SafetensorsReader r = SafetensorsReader.open(blobs.path(v.residualBlob()))) {
                Map<String, String> meta = r.metadata();
                for (LayerShape l : m.layers()) {
                    WeightLayout layout = l.layout();
                    String u = RoundAggregation.residualU(l.module());
                    if (r.tensors().containsKey(u)) {
                        double scale = Double.parseDouble(meta.get(RoundAggregation.scaleKey(l.module())));
                        entries.add(tensorEntry(u, TensorRole.RESIDUAL_U, r, v.residualBlob(), u, l.module(), l.baseKey(), scale, layout));
                        String vv = RoundAggregation.residualV(l.module());
                        entries.add(tensorEntry(vv, TensorRole.RESIDUAL_V, r, v.residualBlob(), vv, l.module(), l.baseKey(), scale, layout));
                    } else if (r.tensors().containsKey(RoundAggregation.residualDense(l.module()))) {
                        String d = RoundAggregation.residualDense(l.module());
                        entries.add(tensorEntry(d, TensorRole.RESIDUAL_DENSE, r, v.residualBlob(), d, l.module(), l.baseKey(), 1.0, layout));
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read residual blob " + v.residualBlob(), e);
            }
        }
        entries.addAll(adapterEntries(v, m));
        return new ModelBundle(v.federationId(), v.version(), haveVersion, List.copyOf(entries));
    }

    /**
     * From any other published version {@code haveVersion} to {@code v}: versions differ only in the adapted layers'
     * weights (every residual is folded into those) and the adapter, so these are sent as they are in {@code v}'s full
     * state, byte for byte, and the client keeps every other tensor and file it holds.
     */
    public ModelBundle adaptedLayers(ModelVersion v, long haveVersion) {
        FederationModel m = federations.model(v.federationId());
        List<BundleEntry> entries = new ArrayList<>();
        try (SafetensorsReader weights = SafetensorsReader.open(blobs.path(v.weightsBlob()))) {
            for (LayerShape l : m.layers()) {
                entries.add(tensorEntry(l.baseKey(), TensorRole.BASE, weights, v.weightsBlob(), l.baseKey(), null, null, 0, null));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the weights blob " + v.weightsBlob(), e);
        }
        entries.addAll(adapterEntries(v, m));
        return new ModelBundle(v.federationId(), v.version(), haveVersion, List.copyOf(entries));
    }

    private List<BundleEntry> adapterEntries(ModelVersion v, FederationModel m) {
        List<BundleEntry> entries = new ArrayList<>();
        try (SafetensorsReader r = SafetensorsReader.open(blobs.path(v.adapterBlob()))) {
            for (LayerShape l : m.layers()) {
                entries.add(tensorEntry(l.loraA(), TensorRole.LORA_A, r, v.adapterBlob(), l.loraA(), l.module(), null, 0, l.layout()));
                entries.add(tensorEntry(l.loraB(), TensorRole.LORA_B, r, v.adapterBlob(), l.loraB(), l.module(), null, 0, l.layout()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read adapter blob " + v.adapterBlob(), e);
        }
        return entries;
    }

    private BundleEntry tensorEntry(String name, TensorRole role, SafetensorsReader reader, String blobSha, String key,
            String module, String target, double scale, WeightLayout layout) {
        TensorInfo info = reader.info(key);
        return new BundleEntry(name, role, info.dtype(), info.shape(), digests.tensor(blobSha, key, reader),
                info.byteLength(), module, target, scale, layout, TensorSlice.tensor(blobs.path(blobSha), key));
    }

    private static long size(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            throw new UncheckedIOException("blob " + p + " is unreadable", e);
        }
    }
}
