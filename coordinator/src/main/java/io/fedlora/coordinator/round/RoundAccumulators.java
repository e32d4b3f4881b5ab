package io.fedlora.coordinator.round;

import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraLayer;
import io.fedlora.aggregation.safetensors.TensorData;
import io.fedlora.aggregation.strategy.AggregationOptions;
import io.fedlora.aggregation.strategy.ClientUpdate;
import io.fedlora.aggregation.strategy.RoundAggregator;
import io.fedlora.aggregation.strategy.Strategies;
import io.fedlora.aggregation.strategy.Weighting;
import io.fedlora.coordinator.client.ClientRecord;
import io.fedlora.coordinator.client.ClientRepository;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.federation.FederationModel;
import io.fedlora.coordinator.federation.FederationRepository;
import io.fedlora.coordinator.model.LayerShape;
import io.fedlora.coordinator.model.ModelTensors;
import io.fedlora.coordinator.model.ModelVersion;
import io.fedlora.coordinator.model.ModelVersionRepository;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;

/**
 * Folds each durably accepted update into its round's in-memory accumulator as it arrives, so the round's memory
 * is the accumulator's ({@code min(n*r*(d_out+d_in), d_out*d_in)} per layer) and the deadline only finishes it.
 *
 * <p>The stored update blobs stay the system of record. The accumulator is a cache of their sum: it is built
 * lazily (from every update already stored for the round, one blob at a time) and reconciled at the deadline
 * against the stored set; whatever it lacks (a restart, a failed fold, an upload that raced the deadline) is read
 * back from the blobs then, and if it holds anything the store does not, it is thrown away and rebuilt. The
 * published result does not depend on arrival order while a layer keeps factors (bit for bit the client-name
 * order, see {@code RoundAggregator}), and agrees with it to fp32 rounding once a layer holds a dense sum.
 *
 * <p>Folding runs on the thread that accepted the upload, under the round's monitor: uploads of one round fold
 * one at a time, and a client's upload call returns only once its update is in the sum, which bounds the number
 * of decoded updates in memory by the number of uploads in flight.
 */
@Component
public class RoundAccumulators implements AcceptedUpdateListener {

    private static final Logger log = LoggerFactory.getLogger(RoundAccumulators.class);

    private final FederationRepository federations;
    private final RoundRepository rounds;
    private final UpdateRepository updates;
    private final ModelVersionRepository versions;
    private final ClientRepository clients;
    private final ModelTensors tensors;
    /** At most one live round per federation: the one collecting now. */
    private final Map<String, LiveRound> live = new ConcurrentHashMap<>();

    public RoundAccumulators(FederationRepository federations, RoundRepository rounds, UpdateRepository updates,
            ModelVersionRepository versions, ClientRepository clients, ModelTensors tensors, MeterRegistry registry) {
        this.federations = federations;
        this.rounds = rounds;
        this.updates = updates;
        this.versions = versions;
        this.clients = clients;
        this.tensors = tensors;
        Gauge.builder("fedlora.round.accumulator.elements", this, RoundAccumulators::totalRetained)
                .description("numbers held by the accumulators of collecting rounds (sums, factors or dense sums)")
                .register(registry);
    }

    @Override
    public void updateAccepted(AcceptedUpdate u) {
        onAccepted(u.federationId(), u.update(), u.factors());
    }

    /**
     * Folds an update whose row has committed into its round's accumulator, from its decoded tensors when given
     * (else from its blob). Never throws: a failure only means the aggregation reads this round's updates back
     * from their blobs, as after a restart.
     */
    public void onAccepted(String federationId, StoredUpdate accepted, List<TensorData> decoded) {
        LiveRound lr = live.compute(federationId, (k, old) ->
                old == null || old.roundId < accepted.roundId() ? new LiveRound(federationId, accepted.roundId()) : old);
        if (lr.roundId != accepted.roundId()) {
            return; // a late call for an older round; its aggregation reads it from the store
        }
        synchronized (lr) {
            if (lr.sealed || lr.broken) {
                return;
            }
            try {
                if (lr.aggregator == null) {
                    RoundRecord r = rounds.find(lr.roundId).orElse(null);
                    if (r == null || r.status() != RoundStatus.COLLECTING) {
                        return;
                    }
                    load(lr, r);
                    int n = 0;
                    for (NamedUpdate u : updates.forAggregationNamed(lr.roundId)) {
                        n += fold(lr, u) ? 1 : 0;
                    }
                    if (n > 1) {
                        log.info("federation {}: round {} accumulator rebuilt from {} stored updates", federationId,
                                r.number(), n);
                    }
                } else if (!lr.folded.contains(accepted.id())) {
                    String name = clients.find(accepted.clientId()).map(ClientRecord::name)
                            .orElseThrow(() -> new IllegalStateException("client " + accepted.clientId() + " is gone"));
                    fold(lr, new NamedUpdate(name, accepted), decoded);
                }
            } catch (RuntimeException e) {
                lr.broken = true;
                lr.dropAggregator();
                log.warn("federation {}: could not fold update {} into round {} as it arrived ({}); the round will be"
                        + " aggregated from its stored updates", federationId, accepted.id(), lr.roundId, e.toString());
            }
        }
    }

    /**
     * Hands the round's accumulator to its aggregation, holding exactly {@code stored} (in the order the store
     * gives them): missing ones are folded from their blobs now, and an accumulator that holds an update not in
     * {@code stored} is rebuilt from scratch. Later {@link #onAccepted} calls for this round are ignored.
     */
    public RoundAccumulation take(String federationId, long roundId, List<NamedUpdate> stored) {
        Set<String> ids = stored.stream().map(u -> u.update().id()).collect(Collectors.toSet());
        LiveRound lr = live.get(federationId);
        if (lr != null && lr.roundId == roundId) {
            live.remove(federationId, lr);
        } else {
            lr = null;
        }
        if (lr != null) {
            synchronized (lr) {
                lr.sealed = true;
                if (!lr.ready() || !ids.containsAll(lr.folded)) {
                    lr.dropAggregator();
                    lr = null;
                }
            }
        }
        if (lr == null) {
            lr = new LiveRound(federationId, roundId);
            load(lr, rounds.find(roundId).orElseThrow());
        }
        int rebuilt = 0;
        for (NamedUpdate u : stored) {
            rebuilt += fold(lr, u) ? 1 : 0;
        }
        return new RoundAccumulation(lr.shapes, lr.baseWeightsBlob, lr.aggregator, rebuilt);
    }

    /** Drops a federation's live accumulator (its round was retried, failed or the federation stopped). */
    public void discard(String federationId) {
        LiveRound lr = live.remove(federationId);
        if (lr != null) {
            synchronized (lr) {
                lr.sealed = true;
                lr.dropAggregator();
            }
        }
    }

    /** Numbers the live accumulator of a federation's collecting round retains, if it has one. */
    public OptionalLong retainedElements(String federationId) {
        LiveRound lr = live.get(federationId);
        if (lr == null) {
            return OptionalLong.empty();
        }
        synchronized (lr) {
            return lr.ready() ? OptionalLong.of(lr.aggregator.retainedElements()) : OptionalLong.empty();
        }
    }

    /** Updates folded into a federation's live accumulator so far (0 when it has none). */
    public int foldedCount(String federationId) {
        LiveRound lr = live.get(federationId);
        if (lr == null) {
            return 0;
        }
        synchronized (lr) {
            return lr.ready() ? lr.folded.size() : 0;
        }
    }

    private double totalRetained() {
        return live.keySet().stream().mapToLong(f -> retainedElements(f).orElse(0)).sum();
    }

    /** Starts an empty accumulator from the round's base version. */
    private void load(LiveRound lr, RoundRecord r) {
        Federation f = federations.find(lr.federationId).orElseThrow();
        FederationModel model = federations.model(lr.federationId);
        List<LayerShape> shapes = model.layers();
        List<LoraLayer> layers = shapes.stream().map(l -> l.toLoraLayer(model.scaling())).toList();
        ModelVersion previous = versions.find(lr.federationId, r.baseVersion()).orElseThrow(() ->
                new IllegalStateException("version " + r.baseVersion() + " of federation " + lr.federationId + " is missing"));
        Map<String, LoraFactors> global = tensors.readAdapter(previous.adapterBlob(), shapes);
        AggregationOptions options = AggregationOptions.defaults(Weighting.fromName(f.spec().weighting()), global)
                .withBaseWeights(new BlobBaseWeights(tensors, previous.weightsBlob(), shapes));
        lr.shapes = shapes;
        lr.baseWeightsBlob = previous.weightsBlob();
        lr.aggregator = Strategies.byName(f.spec().strategy()).begin(layers, options);
        lr.folded.clear();
    }

    /** Reads one stored update's factors and folds them in, unless already folded; frees them right after. */
    private boolean fold(LiveRound lr, NamedUpdate u) {
        return fold(lr, u, null);
    }

    private boolean fold(LiveRound lr, NamedUpdate u, List<TensorData> decoded) {
        if (lr.folded.contains(u.update().id())) {
            return false;
        }
        Map<String, LoraFactors> given = fromDecoded(lr.shapes, decoded);
        Map<String, LoraFactors> factors = given != null ? given : tensors.readAdapter(u.update().blobSha256(), lr.shapes);
        try {
            lr.aggregator.add(new ClientUpdate(u.clientName(), u.update().numExamples(), factors));
        } finally {
            if (given == null) {
                factors.values().forEach(LoraFactors::release);
            }
        }
        lr.folded.add(u.update().id());
        return true;
    }

    /** The factors of an upload's decoded tensors, or null when they are not all there as arrays. */
    private static Map<String, LoraFactors> fromDecoded(List<LayerShape> shapes, List<TensorData> decoded) {
        if (decoded == null || decoded.isEmpty()) {
            return null;
        }
        Map<String, INDArray> byName = new java.util.HashMap<>();
        for (TensorData t : decoded) {
            if (!(t instanceof TensorData.FromArray a)) {
                return null;
            }
            byName.put(a.name(), a.array());
        }
        Map<String, LoraFactors> out = new LinkedHashMap<>();
        for (LayerShape l : shapes) {
            INDArray a = byName.get(l.loraA());
            INDArray b = byName.get(l.loraB());
            if (a == null || b == null) {
                return null;
            }
            out.put(l.module(), new LoraFactors(a, b));
        }
        return out;
    }
}
