package io.fedlora.aggregation.strategy;

import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraLayer;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The {@link RoundAggregator} shared by all strategies; per-layer work lives in {@link LayerAccumulator}. */
final class StreamingRoundAggregator implements RoundAggregator {

    private static final Logger log = LoggerFactory.getLogger(StreamingRoundAggregator.class);

    private final StrategyRule rule;
    private final AggregationOptions options;
    private final Map<String, LayerAccumulator> layers = new LinkedHashMap<>();
    private final Set<String> clients = new HashSet<>();
    private boolean finished;

    StreamingRoundAggregator(StrategyRule rule, List<LoraLayer> layerList, AggregationOptions options) {
        if (layerList == null || layerList.isEmpty()) {
            throw new IllegalArgumentException("a round needs at least one LoRA layer");
        }
        this.rule = rule;
        this.options = options;
        for (LoraLayer layer : layerList) {
            LoraFactors current = options.currentGlobal().get(layer.module());
            if (current != null) {
                current.checkFits(layer, "current global model");
            }
            boolean check = options.computeMetrics()
                    && (long) layer.dOut() * layer.dIn() <= options.metricsMaxElements();
            INDArray frozenA = rule.frozenA() && current != null ? current.a() : null;
            if (layers.put(layer.module(), new LayerAccumulator(layer, rule, check, options.mode(), frozenA)) != null) {
                throw new IllegalArgumentException("layer " + layer.module() + " is listed twice");
            }
        }
    }

    @Override
    public synchronized void add(ClientUpdate update) {
        if (finished) {
            throw new IllegalStateException("round already finished or discarded; update from " + update.clientId()
                    + " not taken");
        }
        String id = update.clientId();
        if (clients.contains(id)) {
            throw new InvalidUpdateException(id, null, "already accepted an update from this client this round");
        }
        if (options.weighting() == Weighting.EXAMPLES ? update.numExamples() <= 0 : update.numExamples() < 0) {
            throw new InvalidUpdateException(id, null, "number of examples must be positive, got " + update.numExamples());
        }
        Set<String> missing = new TreeSet<>(layers.keySet());
        missing.removeAll(update.factors().keySet());
        if (!missing.isEmpty()) {
            throw new InvalidUpdateException(id, missing.iterator().next(), "missing factors for modules " + missing);
        }
        Set<String> extra = new TreeSet<>(update.factors().keySet());
        extra.removeAll(layers.keySet());
        if (!extra.isEmpty()) {
            throw new InvalidUpdateException(id, extra.iterator().next(), "modules not in this round's task: " + extra);
        }
        Map<LayerAccumulator, LayerAccumulator.Prepared> prepared = new LinkedHashMap<>();
        for (LayerAccumulator acc : layers.values()) {
            prepared.put(acc, acc.validate(id, update.factors().get(acc.layer().module())));
        }
        double c = options.weighting().rawWeight(update.numExamples());
        prepared.forEach((acc, p) -> acc.add(id, p, c));
        clients.add(id);
        log.debug("{}: accepted update from {} ({} examples), {} so far", rule.name(), id, update.numExamples(), clients.size());
    }

    /** Numbers held for residuals over all layers (for tests of the memory bound). */
    synchronized long residualStateElements() {
        return layers.values().stream().mapToLong(LayerAccumulator::residualStateElements).sum();
    }

    @Override
    public synchronized long retainedElements() {
        return layers.values().stream().mapToLong(LayerAccumulator::retainedElements).sum();
    }

    @Override
    public synchronized int clientCount() {
        return clients.size();
    }

    @Override
    public synchronized AggregationResult finish() {
        if (finished) {
            throw new IllegalStateException("round already finished or discarded");
        }
        if (clients.isEmpty()) {
            throw new IllegalStateException("cannot aggregate a round without any accepted update");
        }
        finished = true;
        Map<String, LoraFactors> global = new LinkedHashMap<>();
        Map<String, Residual> residuals = new LinkedHashMap<>();
        Map<String, LayerMetrics> perLayer = new LinkedHashMap<>();
        double errSq = 0;
        double refSq = 0;
        double devSq = 0;
        for (LayerAccumulator acc : layers.values()) {
            String module = acc.layer().module();
            LayerAccumulator.Outcome out = finishLayer(acc);
            global.put(module, out.global());
            if (out.residual() != null) {
                residuals.put(module, out.residual());
            }
            if (out.check() == null) {
                perLayer.put(module, LayerMetrics.skipped());
            } else {
                perLayer.put(module, out.check().metrics());
                errSq += sq(out.check().error());
                refSq += sq(out.check().reference());
                devSq += sq(out.check().deviation());
            }
        }
        double exact = refSq == 0 ? Double.NaN : Math.sqrt(errSq / refSq);
        double dev = refSq == 0 ? Double.NaN : Math.sqrt(devSq / refSq);
        log.debug("{}: aggregated {} clients over {} layers: exactness error {}, FedAvg deviation {}",
                rule.name(), clients.size(), layers.size(), exact, dev);
        return new AggregationResult(global, residuals, new AggregationMetrics(perLayer, exact, dev));
    }

    /** One layer's outcome, with its base weight looked up for this layer only. */
    private LayerAccumulator.Outcome finishLayer(LayerAccumulator acc) {
        INDArray base = options.baseWeights().acquire(acc.layer().module());
        try {
            if (base != null) {
                acc.layer().checkBaseShape(base.shape(), "aggregation options");
            }
            return acc.finish(base);
        } finally {
            if (base != null) {
                options.baseWeights().release(base);
            }
        }
    }

    @Override
    public synchronized void discard() {
        finished = true;
        layers.values().forEach(LayerAccumulator::release);
    }

    private static double sq(double x) {
        return x * x;
    }
}
