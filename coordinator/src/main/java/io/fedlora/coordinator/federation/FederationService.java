package io.fedlora.coordinator.federation;

import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraInit;
import io.fedlora.aggregation.lora.LoraScaling;
import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.coordinator.admin.AuditLog;
import io.fedlora.coordinator.admin.ConflictException;
import io.fedlora.coordinator.admin.NotFoundException;
import io.fedlora.coordinator.blob.BlobRepository;
import io.fedlora.coordinator.blob.BlobStore;
import io.fedlora.coordinator.blob.StoredBlob;
import io.fedlora.coordinator.model.BaseModelDirectory;
import io.fedlora.coordinator.model.BaseModelInspector;
import io.fedlora.coordinator.model.BaseModelRegistry;
import io.fedlora.coordinator.model.BaseModelWeights;
import io.fedlora.coordinator.model.RegisteredModel;
import io.fedlora.coordinator.model.InvalidModelException;
import io.fedlora.coordinator.model.LayerShape;
import io.fedlora.coordinator.model.ModelTensors;
import io.fedlora.coordinator.model.ModelVersion;
import io.fedlora.coordinator.model.ModelVersionRepository;
import io.fedlora.coordinator.round.RoundRepository;
import io.fedlora.coordinator.round.Signals;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Service;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Creates federations (base model into the blob store, LoRA layers resolved, version 0 published)
 * and applies the admin's life-cycle commands, each as one transaction with an audit entry.
 */
@Service
public class FederationService {

    private static final Logger log = LoggerFactory.getLogger(FederationService.class);

    private final FederationRepository federations;
    private final ModelVersionRepository versions;
    private final RoundRepository rounds;
    private final BlobStore blobs;
    private final BlobRepository blobRows;
    private final BaseModelInspector inspector;
    private final BaseModelWeights weightsStore;
    private final BaseModelRegistry registry;
    private final AuditLog audit;
    private final Signals signals;
    private final TransactionTemplate tx;

    public FederationService(FederationRepository federations, ModelVersionRepository versions, RoundRepository rounds,
            BlobStore blobs, BlobRepository blobRows, BaseModelInspector inspector, BaseModelWeights weightsStore,
            BaseModelRegistry registry, AuditLog audit, Signals signals, TransactionTemplate tx) {
        this.registry = registry;
        this.weightsStore = weightsStore;
        this.federations = federations;
        this.versions = versions;
        this.rounds = rounds;
        this.blobs = blobs;
        this.blobRows = blobRows;
        this.inspector = inspector;
        this.audit = audit;
        this.signals = signals;
        this.tx = tx;
    }

    public Federation create(FederationSpec spec, String actor) {
        if (federations.nameTaken(spec.name())) {
            throw new InvalidModelException("name", "a federation named '" + spec.name() + "' already exists");
        }
        if (!spec.isBaseModelGivenOnce()) {
            throw new InvalidModelException("baseModelPath", "give exactly one of baseModelPath and baseModel");
        }
        RegisteredModel registered = spec.baseModel() == null ? null : registry.find(spec.baseModel())
                .orElseThrow(() -> new InvalidModelException("baseModel", "no registered base model '" + spec.baseModel()
                        + "' (register it with POST /api/v1/base-models)"));
        if (registered == null) {
            return create(spec, actor, null, inspector.inspect(spec.baseModelPath(), spec.targetModules()));
        }
        try (BaseModelRegistry.LinkedDirectory linked = registry.linkedDirectory(registered)) {
            return create(spec, actor, registered,
                    inspector.inspect("baseModel", linked, spec.targetModules()));
        }
    }

    private Federation create(FederationSpec spec, String actor, RegisteredModel registered, BaseModelDirectory model) {
        LoraScaling scaling = new LoraScaling(spec.alpha(), spec.rank(), spec.useRslora());
        StoredBlob base;
        Map<String, StoredBlob> files = new LinkedHashMap<>();
        if (registered != null) {
            base = registry.weightsBlob(registered); // already in the store: no second copy of the weights
            files.putAll(registry.fileBlobs(registered));
        } else {
            base = weightsStore.store(model); // a sharded checkpoint becomes one safetensors blob, same tensors
            model.auxFiles().forEach((name, path) -> files.put(name, blobs.putFile(path)));
        }
        Map<String, LoraFactors> initial = new LinkedHashMap<>();
        List<LayerShape> layers = model.layers();
        for (int i = 0; i < layers.size(); i++) {
            LayerShape l = layers.get(i);
            initial.put(l.module(), LoraInit.init(l.toLoraLayer(scaling), spec.training().seed() * 1_000_003L + i));
        }
        StoredBlob adapter = blobs.putSafetensors(ModelTensors.adapterTensors(initial, layers), Map.of(), DType.F32);
        StoredBlob weights = blobs.putSafetensors(targetWeights(model, blobs.path(base.sha256())), Map.of(), DType.F32);
        String id = UUID.randomUUID().toString();
        tx.executeWithoutResult(s -> {
            for (StoredBlob b : List.of(base, adapter, weights)) {
                blobRows.register(b);
            }
            files.values().forEach(blobRows::register);
            federations.insert(id, spec, base.sha256(), layers, model.keyPrefix());
            files.forEach((name, b) -> federations.insertFile(id, name, b.sha256()));
            versions.insert(new ModelVersion(id, 0, null, adapter.sha256(), weights.sha256(), null,
                    ModelVersion.ResidualKind.NONE, null));
            audit.record(actor, "federation.create", id, spec.name(),
                    Map.of(registered != null ? "baseModel" : "baseModelPath", spec.baseModelDescription(),
                            "layers", layers.size(), "strategy", spec.strategy()));
        });
        log.info("federation {} '{}' created: {} LoRA layers ({}), rank {}, strategy {}", id, spec.name(),
                layers.size(), layers.get(0).layout(), spec.rank(), spec.strategy());
        return get(id);
    }

    /** The adapted modules' weights, from the stored base blob (never from the request's directory a second time). */
    private static Map<String, INDArray> targetWeights(BaseModelDirectory model, java.nio.file.Path baseBlob) {
        try (SafetensorsReader r = SafetensorsReader.open(baseBlob)) {
            Map<String, INDArray> out = new LinkedHashMap<>();
            for (LayerShape l : model.layers()) {
                out.put(l.baseKey(), r.readFloat(model.keyPrefix() + l.baseKey()));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the base weights of " + model.dir(), e);
        }
    }

    public Federation get(String id) {
        return federations.find(id).orElseThrow(() -> new NotFoundException("no federation " + id));
    }

    public List<Federation> list() {
        return federations.findAll();
    }

    public Federation start(String id, String actor) {
        return command(id, actor, "federation.start", EnumSet.of(FederationStatus.CREATED), FederationStatus.RUNNING);
    }

    public Federation pause(String id, String actor) {
        return command(id, actor, "federation.pause", EnumSet.of(FederationStatus.RUNNING), FederationStatus.PAUSED);
    }

    public Federation resume(String id, String actor) {
        return command(id, actor, "federation.resume", EnumSet.of(FederationStatus.PAUSED), FederationStatus.RUNNING);
    }

    public Federation cancel(String id, String actor) {
        return command(id, actor, "federation.cancel",
                EnumSet.of(FederationStatus.CREATED, FederationStatus.RUNNING, FederationStatus.PAUSED),
                FederationStatus.CANCELLED);
    }

    private Federation command(String id, String actor, String action, Set<FederationStatus> from, FederationStatus to) {
        tx.executeWithoutResult(s -> {
            Federation f = federations.lock(id).orElseThrow(() -> new NotFoundException("no federation " + id));
            if (!from.contains(f.status())) {
                throw new ConflictException("cannot " + action.substring(action.indexOf('.') + 1) + " federation " + id
                        + ": it is " + f.status());
            }
            String reason = to == FederationStatus.CANCELLED ? "cancelled by " + actor : null;
            federations.transition(id, from, to, reason);
            if (to == FederationStatus.CANCELLED) {
                rounds.cancelLive(id, reason);
            } else if (action.equals("federation.resume")) {
                rounds.extendLiveDeadlines(id, f.spec().roundDeadlineSeconds());
            }
            audit.record(actor, action, id, f.name(), Map.of("from", f.status().name(), "to", to.name()));
            signals.federationChanged(id);
        });
        log.info("federation {}: {} by {}", id, to, actor);
        return get(id);
    }
}
