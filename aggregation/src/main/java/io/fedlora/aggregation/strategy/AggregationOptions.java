package io.fedlora.aggregation.strategy;

import io.fedlora.aggregation.lora.LoraFactors;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Knobs of one round's aggregation.
 *
 * @param weighting           client weights by examples (default) or uniform
 * @param currentGlobal       the factors the clients started from (FFA checks A against them; may be empty)
 * @param baseWeights         frozen base weight per module, in the layer's layout, used only for the metrics'
 *                            denominators and looked up when the round finishes; a module without one is measured as
 *                            if {@code W0 = 0} (relative to the averaged adapter delta, a stricter figure)
 * @param computeMetrics      whether to run the dense per-layer exactness check at all
 * @param metricsMaxElements  layers with more than this many weights skip the check (metrics NaN)
 * @param mode                accumulator policy, {@link AccumulatorMode#AUTO} in production
 */
public record AggregationOptions(Weighting weighting, Map<String, LoraFactors> currentGlobal,
                                 BaseWeights baseWeights, boolean computeMetrics, long metricsMaxElements,
                                 AccumulatorMode mode) {

    /** 64 Mi weights (256 MiB fp32) per layer. */
    public static final long DEFAULT_METRICS_MAX_ELEMENTS = 1L << 26;

    public AggregationOptions {
        weighting = weighting == null ? Weighting.EXAMPLES : weighting;
        currentGlobal = currentGlobal == null ? Map.of() : Map.copyOf(currentGlobal);
        baseWeights = baseWeights == null ? BaseWeights.none() : baseWeights;
        mode = mode == null ? AccumulatorMode.AUTO : mode;
    }

    public static AggregationOptions defaults(Weighting weighting, Map<String, LoraFactors> currentGlobal) {
        return new AggregationOptions(weighting, currentGlobal, BaseWeights.none(), true, DEFAULT_METRICS_MAX_ELEMENTS,
                AccumulatorMode.AUTO);
    }

    /** Base weights the caller holds for the whole round. */
    public AggregationOptions withBaseWeights(Map<String, INDArray> base) {
        return withBaseWeights(BaseWeights.of(base));
    }

    public AggregationOptions withBaseWeights(BaseWeights base) {
        return new AggregationOptions(weighting, currentGlobal, base, computeMetrics, metricsMaxElements, mode);
    }

    public AggregationOptions withMetrics(boolean on) {
        return new AggregationOptions(weighting, currentGlobal, baseWeights, on, metricsMaxElements, mode);
    }

    public AggregationOptions withMode(AccumulatorMode m) {
        return new AggregationOptions(weighting, currentGlobal, baseWeights, computeMetrics, metricsMaxElements, m);
    }
}
