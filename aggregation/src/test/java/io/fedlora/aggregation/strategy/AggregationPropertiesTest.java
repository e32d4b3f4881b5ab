package io.fedlora.aggregation.strategy;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.WeightLayout;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * FedEx, FedIT and FFA against an independent double-precision reference over random shapes (square and not),
 * both layouts, 1-16 clients, ranks 1-32 and uneven example counts.
 */
class AggregationPropertiesTest {

    @Property(tries = 60)
    void fedexMatchesTheExactAverage(@ForAll @IntRange(min = 1, max = 96) int dOut,
                                     @ForAll @IntRange(min = 1, max = 96) int dIn,
                                     @ForAll @IntRange(min = 1, max = 32) int rank,
                                     @ForAll @IntRange(min = 1, max = 16) int clients,
                                     @ForAll WeightLayout layout, @ForAll Weighting weighting,
                                     @ForAll AccumulatorMode mode, @ForAll @LongRange long seed) {
        Fixture f = new Fixture(dOut, dIn, rank, clients, layout, seed, false);
        AggregationResult res = f.run("fedex", weighting, mode, f.inOrder());
        LoraFactors g = res.global().get(f.layer.module());
        INDArray base = f.base();
        res.residuals().get(f.layer.module()).foldInto(base, layout);

        double[][] want = f.exactAverage(weighting);
        double err = Fixture.relError(f.published(base, g), want);
        assertThat(err).isLessThanOrEqualTo(1e-5);
        LayerMetrics m = res.metrics().perLayer().get(f.layer.module());
        assertThat(m.exactnessRelError()).isLessThanOrEqualTo(1e-5);
        assertThat(res.metrics().exactnessRelError()).isLessThanOrEqualTo(1e-5);

        // The reported FedAvg deviation is what FedIT's published model really misses by.
        double fedavgErr = Fixture.relError(f.published(f.base(), g), want);
        assertThat(m.fedavgDeviationRel()).isCloseTo(fedavgErr, org.assertj.core.data.Offset.offset(1e-5 + 1e-3 * fedavgErr));
    }

    @Property(tries = 40)
    void feditDropsTheResidualAndReportsItsOwnDeviation(@ForAll @IntRange(min = 1, max = 64) int dOut,
                                                        @ForAll @IntRange(min = 1, max = 64) int dIn,
                                                        @ForAll @IntRange(min = 1, max = 16) int rank,
                                                        @ForAll @IntRange(min = 2, max = 16) int clients,
                                                        @ForAll WeightLayout layout, @ForAll Weighting weighting,
                                                        @ForAll @LongRange long seed) {
        Fixture f = new Fixture(dOut, dIn, rank, clients, layout, seed, false);
        AggregationResult res = f.run("fedit", weighting, AccumulatorMode.AUTO, f.inOrder());
        assertThat(res.residuals()).isEmpty();
        double err = Fixture.relError(f.published(f.base(), res.global().get(f.layer.module())), f.exactAverage(weighting));
        assertThat(err).isGreaterThan(1e-4);
        LayerMetrics m = res.metrics().perLayer().get(f.layer.module());
        assertThat(m.exactnessRelError()).isCloseTo(err, org.assertj.core.data.Offset.offset(1e-3 * err));
        assertThat(m.fedavgDeviationRel()).isCloseTo(err, org.assertj.core.data.Offset.offset(1e-3 * err));
    }

    @Property(tries = 40)
    void ffaIsExactWhenAIsShared(@ForAll @IntRange(min = 1, max = 96) int dOut,
                                 @ForAll @IntRange(min = 1, max = 96) int dIn,
                                 @ForAll @IntRange(min = 1, max = 32) int rank,
                                 @ForAll @IntRange(min = 1, max = 16) int clients,
                                 @ForAll WeightLayout layout, @ForAll Weighting weighting,
                                 @ForAll @LongRange long seed) {
        Fixture f = new Fixture(dOut, dIn, rank, clients, layout, seed, true);
        AggregationResult res = f.run("ffa", weighting, AccumulatorMode.AUTO, f.inOrder());
        assertThat(res.residuals()).isEmpty();
        LoraFactors g = res.global().get(f.layer.module());
        assertThat(g.a().toFloatMatrix()).isDeepEqualTo(f.as.get(0));
        double err = Fixture.relError(f.published(f.base(), g), f.exactAverage(weighting));
        assertThat(err).isLessThanOrEqualTo(1e-5);
        assertThat(res.metrics().exactnessRelError()).isLessThanOrEqualTo(1e-5);
        assertThat(res.metrics().fedavgDeviationRel()).isZero();
    }
}
