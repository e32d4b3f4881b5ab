package io.fedlora.aggregation.strategy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraLayer;
import io.fedlora.aggregation.lora.LoraScaling;
import io.fedlora.aggregation.lora.WeightLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class StreamingAndLayoutTest {

    @ParameterizedTest
    @EnumSource(WeightLayout.class)
    void arrivalOrderDoesNotMatter(WeightLayout layout) {
        Fixture f = new Fixture(24, 40, 4, 7, layout, 11, false);
        List<Integer> shuffled = f.inOrder();
        Collections.shuffle(shuffled, new Random(3));
        INDArray a = folded(f, f.run("fedex", Weighting.EXAMPLES, AccumulatorMode.AUTO, f.inOrder()));
        INDArray b = folded(f, f.run("fedex", Weighting.EXAMPLES, AccumulatorMode.AUTO, shuffled));
        assertThat(a.distance2(b) / a.norm2Number().doubleValue()).isLessThan(1e-6);
    }

    @ParameterizedTest
    @EnumSource(value = AccumulatorMode.class, names = {"AUTO", "FACTORS"})
    void whileFactorsAreKeptAnyArrivalOrderGivesTheClientOrderResultBitForBit(AccumulatorMode mode) {
        Fixture f = new Fixture(64, 80, 2, 12, WeightLayout.CONV1D, 17, false); // 12*2*144 = 3456 < 5120: factors
        List<Integer> byId = f.inOrder();
        byId.sort((x, y) -> ClientOrder.compare("client-" + x, "client-" + y)); // client-0, client-1, client-10, ...
        AggregationResult reference = f.run("fedex", Weighting.EXAMPLES, mode, byId);
        for (long seed = 1; seed <= 3; seed++) {
            List<Integer> shuffled = f.inOrder();
            Collections.shuffle(shuffled, new Random(seed));
            AggregationResult got = f.run("fedex", Weighting.EXAMPLES, mode, shuffled);
            Residual want = reference.residuals().get(f.layer.module());
            Residual res = got.residuals().get(f.layer.module());
            assertThat(res.hasFactors()).isTrue();
            assertThat(bits(res.u())).as("U, arrival order %s", shuffled).isEqualTo(bits(want.u()));
            assertThat(bits(res.v())).isEqualTo(bits(want.v()));
            assertThat(bits(got.global().get(f.layer.module()).a())).isEqualTo(bits(reference.global().get(f.layer.module()).a()));
            assertThat(bits(got.global().get(f.layer.module()).b())).isEqualTo(bits(reference.global().get(f.layer.module()).b()));
            assertThat(bits(folded(f, got))).isEqualTo(bits(folded(f, reference)));
            assertThat(got.metrics().exactnessRelError()).isEqualTo(reference.metrics().exactnessRelError());
        }
    }

    /** The exact fp32 bit patterns, c order (ND4J's equals allows 1e-5). */
    private static int[] bits(INDArray x) {
        float[] v = x.dup('c').data().asFloat();
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = Float.floatToRawIntBits(v[i]);
        }
        return out;
    }

    @Test
    void clientOrderIsByUtf8BytesLikeCollateC() {
        assertThat(ClientOrder.compare("client-10", "client-2")).isNegative();
        assertThat(ClientOrder.compare("B", "a")).isNegative();
        // U+FFFD sorts before U+1F600 in UTF-8 bytes (EF.. < F0..) but after its surrogates in UTF-16
        assertThat(ClientOrder.compare("\uFFFD", "\uD83D\uDE00")).isNegative();
        assertThat("\uFFFD".compareTo("\uD83D\uDE00")).isPositive();
    }

    @ParameterizedTest
    @EnumSource(WeightLayout.class)
    void denseAndFactorAccumulatorsAgree(WeightLayout layout) {
        Fixture f = new Fixture(20, 36, 3, 6, layout, 5, false);
        AggregationResult factors = f.run("fedex", Weighting.UNIFORM, AccumulatorMode.FACTORS, f.inOrder());
        AggregationResult dense = f.run("fedex", Weighting.UNIFORM, AccumulatorMode.DENSE, f.inOrder());
        assertThat(factors.residuals().get(f.layer.module()).hasFactors()).isTrue();
        assertThat(dense.residuals().get(f.layer.module()).hasFactors()).isFalse();
        INDArray a = folded(f, factors);
        INDArray b = folded(f, dense);
        assertThat(a.distance2(b) / a.norm2Number().doubleValue()).isLessThan(1e-6);
        assertThat(dense.metrics().fedavgDeviationRel())
                .isCloseTo(factors.metrics().fedavgDeviationRel(), org.assertj.core.data.Offset.offset(1e-5));
    }

    @Test
    void autoModeSwitchesToDenseOnceFactorsWouldBeLarger() {
        // 8x8 layer, r=2: factors cost 32 per client against 64 dense, so the second client switches.
        Fixture few = new Fixture(8, 8, 2, 1, WeightLayout.LINEAR, 1, false);
        Fixture many = new Fixture(8, 8, 2, 5, WeightLayout.LINEAR, 1, false);
        Residual one = few.run("fedex", Weighting.EXAMPLES, AccumulatorMode.AUTO, few.inOrder()).residuals().get(few.layer.module());
        AggregationResult auto = many.run("fedex", Weighting.EXAMPLES, AccumulatorMode.AUTO, many.inOrder());
        Residual five = auto.residuals().get(many.layer.module());
        assertThat(one.hasFactors()).isTrue();
        assertThat(one.factorsSmallerThanDense()).isTrue();
        assertThat(five.hasFactors()).isFalse();
        assertThat(five.factorsSmallerThanDense()).isFalse();
        assertThatThrownBy(five::u).isInstanceOf(IllegalStateException.class);
        INDArray viaDense = folded(many, auto);
        INDArray viaFactors = folded(many, many.run("fedex", Weighting.EXAMPLES, AccumulatorMode.FACTORS, many.inOrder()));
        assertThat(viaDense.distance2(viaFactors) / viaFactors.norm2Number().doubleValue()).isLessThan(1e-6);
        assertThat(Fixture.relError(viaDense.toDoubleMatrix(), many.exactAverage(Weighting.EXAMPLES))).isLessThan(1e-5);
    }

    @Test
    void streamingStateNeverExceedsTheSmallerOfFactorsAndOneDenseMatrix() {
        Fixture f = new Fixture(16, 16, 2, 20, WeightLayout.LINEAR, 3, false);
        StreamingRoundAggregator agg = (StreamingRoundAggregator) Strategies.byName("fedex")
                .begin(List.of(f.layer), Weighting.EXAMPLES, Map.of());
        long dense = 16 * 16;
        for (int n = 1; n <= f.clients(); n++) {
            agg.add(f.update(n - 1));
            long factors = (long) n * 2 * (16 + 16);
            assertThat(agg.residualStateElements()).as("after %d clients", n).isLessThanOrEqualTo(Math.min(factors, dense));
        }
        assertThat(agg.residualStateElements()).isEqualTo(dense);
        assertThat(agg.retainedElements()).as("dense sum plus the two factor sums").isEqualTo(dense + 2 * (16 + 16));
    }

    @Test
    void factorsStoredAcrossSeveralOffHeapBlocksGiveTheExactAverage() {
        // 19 clients: three FactorStore blocks of 8, the last one partly filled; non-square, Conv1D layout
        Fixture f = new Fixture(12, 20, 3, 19, WeightLayout.CONV1D, 11, false);
        AggregationResult viaFactors = f.run("fedex", Weighting.EXAMPLES, AccumulatorMode.FACTORS, f.inOrder());
        assertThat(viaFactors.residuals().get(f.layer.module()).hasFactors()).isTrue();
        INDArray factors = folded(f, viaFactors);
        INDArray dense = folded(f, f.run("fedex", Weighting.EXAMPLES, AccumulatorMode.DENSE, f.inOrder()));
        assertThat(Fixture.relError(factors.toDoubleMatrix(), f.exactAverage(Weighting.EXAMPLES))).isLessThan(1e-5);
        assertThat(factors.distance2(dense) / dense.norm2Number().doubleValue()).isLessThan(1e-6);
    }

    @ParameterizedTest
    @EnumSource(WeightLayout.class)
    void aDenseResidualIsHandedOutWithoutACopyOnlyInItsOwnLayout(WeightLayout layout) {
        Fixture f = new Fixture(6, 10, 2, 7, layout, 13, false);
        Residual dense = f.run("fedex", Weighting.EXAMPLES, AccumulatorMode.DENSE, f.inOrder()).residuals()
                .get(f.layer.module());
        WeightLayout other = layout == WeightLayout.LINEAR ? WeightLayout.CONV1D : WeightLayout.LINEAR;
        INDArray held = dense.heldDense(layout).orElseThrow();
        assertThat(held.shape()).containsExactly(layout.baseShape(6, 10));
        assertThat(held.distance2(dense.dense(layout))).isZero();
        assertThat(dense.heldDense(other)).as("the transposed layout needs a copy").isEmpty();
        Residual factors = f.run("fedex", Weighting.EXAMPLES, AccumulatorMode.FACTORS, f.inOrder()).residuals()
                .get(f.layer.module());
        assertThat(factors.heldDense(layout)).as("factors are not a dense matrix").isEmpty();
    }

    @Test
    void aDiscardedRoundHoldsNothingAndTakesNoMoreUpdates() {
        Fixture f = new Fixture(16, 16, 2, 12, WeightLayout.LINEAR, 5, false);
        StreamingRoundAggregator agg = (StreamingRoundAggregator) Strategies.byName("fedex")
                .begin(List.of(f.layer), Weighting.EXAMPLES, Map.of());
        for (int n = 0; n < f.clients(); n++) {
            agg.add(f.update(n));
        }
        assertThat(agg.residualStateElements()).isPositive();
        agg.discard();
        assertThat(agg.residualStateElements()).isZero();
        assertThatThrownBy(() -> agg.add(f.update(0))).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(agg::finish).isInstanceOf(IllegalStateException.class);
        agg.discard();
    }

    @Test
    void residualFactorsHaveInnerDimensionNTimesR() {
        Fixture f = new Fixture(64, 48, 4, 3, WeightLayout.CONV1D, 9, false);
        Residual r = f.run("fedex", Weighting.EXAMPLES, AccumulatorMode.AUTO, f.inOrder()).residuals().get(f.layer.module());
        assertThat(r.u().shape()).containsExactly(64, 12);
        assertThat(r.v().shape()).containsExactly(12, 48);
        assertThat(r.factorsSmallerThanDense()).isTrue(); // 12*(64+48)=1344 < 3072
        assertThat(r.dense(WeightLayout.CONV1D).shape()).containsExactly(48, 64);
        assertThat(r.dense(WeightLayout.LINEAR).transpose().equalsWithEps(r.dense(WeightLayout.CONV1D), 1e-6)).isTrue();
    }

    @ParameterizedTest
    @EnumSource(WeightLayout.class)
    void foldingANonSquareResidualInTheWrongLayoutIsRejected(WeightLayout layout) {
        Fixture f = new Fixture(12, 30, 2, 3, layout, 2, false);
        Residual r = f.run("fedex", Weighting.EXAMPLES, AccumulatorMode.AUTO, f.inOrder()).residuals().get(f.layer.module());
        WeightLayout wrong = layout == WeightLayout.LINEAR ? WeightLayout.CONV1D : WeightLayout.LINEAR;
        // The base as stored, folded as if it were the other layout (the reference code's unconditional transpose).
        assertThatThrownBy(() -> r.foldInto(f.base(), wrong))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("expected");
        // A base of the transposed shape is also refused in the right layout.
        assertThatThrownBy(() -> r.foldInto(f.base().transpose().dup(), layout))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @ParameterizedTest
    @EnumSource(WeightLayout.class)
    void foldingASquareResidualTransposedIsDetectablyWrong(WeightLayout layout) {
        Fixture f = new Fixture(32, 32, 2, 4, layout, 8, false);
        AggregationResult res = f.run("fedex", Weighting.EXAMPLES, AccumulatorMode.AUTO, f.inOrder());
        LoraFactors g = res.global().get(f.layer.module());
        WeightLayout wrong = layout == WeightLayout.LINEAR ? WeightLayout.CONV1D : WeightLayout.LINEAR;
        INDArray right = f.base();
        res.residuals().get(f.layer.module()).foldInto(right, layout);
        INDArray transposed = f.base();
        res.residuals().get(f.layer.module()).foldInto(transposed, wrong);
        double[][] want = f.exactAverage(Weighting.EXAMPLES);
        assertThat(Fixture.relError(f.published(right, g), want)).isLessThan(1e-5);
        assertThat(Fixture.relError(f.published(transposed, g), want)).isGreaterThan(1e-3);
    }

    @Test
    void rejectsBadUpdatesWithoutChangingTheRound() {
        Fixture f = new Fixture(6, 10, 2, 2, WeightLayout.LINEAR, 4, false);
        RoundAggregator agg = Strategies.byName("fedex").begin(List.of(f.layer), Weighting.EXAMPLES, Map.of());
        agg.add(f.update(0));
        assertThatThrownBy(() -> agg.add(f.update(0))).isInstanceOf(InvalidUpdateException.class)
                .hasMessageContaining("client-0");
        LoraFactors wrongShape = new LoraFactors(Nd4j.rand(2, 9), Nd4j.rand(6, 2));
        assertThatThrownBy(() -> agg.add(new ClientUpdate("x", 3, Map.of(f.layer.module(), wrongShape))))
                .isInstanceOf(InvalidUpdateException.class).hasMessageContaining("h.0.attn.c_attn");
        INDArray nan = Nd4j.rand(2, 10);
        nan.putScalar(0, 0, Double.NaN);
        assertThatThrownBy(() -> agg.add(new ClientUpdate("y", 3, Map.of(f.layer.module(), new LoraFactors(nan, Nd4j.rand(6, 2))))))
                .isInstanceOf(InvalidUpdateException.class).hasMessageContaining("NaN");
        assertThatThrownBy(() -> agg.add(new ClientUpdate("z", 3, Map.of())))
                .isInstanceOf(InvalidUpdateException.class).hasMessageContaining("missing");
        assertThatThrownBy(() -> agg.add(new ClientUpdate("w", 0, f.update(1).factors())))
                .isInstanceOf(InvalidUpdateException.class).hasMessageContaining("examples");
        assertThat(agg.clientCount()).isEqualTo(1);
        agg.add(f.update(1));
        AggregationResult res = agg.finish();
        assertThat(res.metrics().exactnessRelError()).isLessThan(1e-5);
        assertThatThrownBy(agg::finish).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void ffaRejectsAClientWhoseAChanged() {
        Fixture f = new Fixture(6, 10, 2, 2, WeightLayout.LINEAR, 4, false); // distinct A per client
        RoundAggregator agg = Strategies.byName("ffa").begin(List.of(f.layer), Weighting.EXAMPLES, Map.of());
        agg.add(f.update(0));
        assertThatThrownBy(() -> agg.add(f.update(1))).isInstanceOf(InvalidUpdateException.class)
                .hasMessageContaining("frozen A").hasMessageContaining("client-1");
        Fixture shared = new Fixture(6, 10, 2, 2, WeightLayout.LINEAR, 4, true);
        LoraFactors start = new LoraFactors(Nd4j.create(f.as.get(0)), Nd4j.zeros(6, 2));
        RoundAggregator withGlobal = Strategies.byName("ffa").begin(List.of(shared.layer), Weighting.EXAMPLES,
                Map.of(shared.layer.module(), start));
        assertThatThrownBy(() -> withGlobal.add(shared.update(0))).isInstanceOf(InvalidUpdateException.class);
    }

    @Test
    void concurrentAddsGiveTheSameResultAsSequentialOnes() throws Exception {
        Fixture f = new Fixture(30, 20, 3, 12, WeightLayout.CONV1D, 21, false);
        RoundAggregator agg = Strategies.byName("fedex").begin(List.of(f.layer),
                AggregationOptions.defaults(Weighting.EXAMPLES, Map.of()).withBaseWeights(Map.of(f.layer.module(), f.base())));
        var pool = java.util.concurrent.Executors.newFixedThreadPool(4);
        try {
            List<java.util.concurrent.Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < f.clients(); i++) {
                int c = i;
                futures.add(pool.submit(() -> agg.add(f.update(c))));
            }
            for (var fut : futures) {
                fut.get();
            }
        } finally {
            pool.shutdown();
        }
        INDArray concurrent = folded(f, agg.finish());
        INDArray sequential = folded(f, f.run("fedex", Weighting.EXAMPLES, AccumulatorMode.AUTO, f.inOrder()));
        assertThat(concurrent.distance2(sequential) / sequential.norm2Number().doubleValue()).isLessThan(1e-6);
    }

    @Test
    void baseWeightsAreLookedUpOnlyWhenTheRoundFinishesAndReleasedLayerByLayer() {
        Fixture f = new Fixture(8, 12, 2, 4, WeightLayout.CONV1D, 9, false);
        List<String> events = new ArrayList<>();
        BaseWeights lazy = new BaseWeights() {
            @Override
            public INDArray acquire(String module) {
                events.add("acquire " + module);
                return module.equals(f.layer.module()) ? f.base().dup() : null;
            }

            @Override
            public void release(INDArray weight) {
                events.add("release");
                weight.close();
            }
        };
        RoundAggregator agg = Strategies.byName("fedex").begin(List.of(f.layer),
                AggregationOptions.defaults(Weighting.EXAMPLES, Map.of()).withBaseWeights(lazy));
        for (int n = 0; n < f.clients(); n++) {
            agg.add(f.update(n));
        }
        assertThat(events).as("nothing read while the round collects").isEmpty();
        AggregationResult lazyResult = agg.finish();
        assertThat(events).containsExactly("acquire " + f.layer.module(), "release");
        AggregationResult held = f.run("fedex", Weighting.EXAMPLES, AccumulatorMode.AUTO, f.inOrder());
        assertThat(lazyResult.metrics().exactnessRelError()).as("the same metric as with held weights")
                .isEqualTo(held.metrics().exactnessRelError());
    }

    @Test
    void metricsCanBeSkippedForHugeLayers() {
        Fixture f = new Fixture(16, 16, 2, 2, WeightLayout.LINEAR, 4, false);
        AggregationOptions opts = new AggregationOptions(Weighting.EXAMPLES, Map.of(), BaseWeights.none(), true, 100,
                AccumulatorMode.AUTO);
        RoundAggregator agg = Strategies.byName("fedex").begin(List.of(f.layer), opts);
        agg.add(f.update(0));
        agg.add(f.update(1));
        AggregationResult res = agg.finish();
        assertThat(res.metrics().perLayer().get(f.layer.module()).isSkipped()).isTrue();
        assertThat(res.metrics().exactnessRelError()).isNaN();
        assertThat(res.residuals()).containsKey(f.layer.module());
    }

    @Test
    void strategiesAreFoundByName() {
        assertThat(Strategies.byName("FedEx").name()).isEqualTo("fedex");
        assertThat(Strategies.byName("fedit").name()).isEqualTo("fedit");
        assertThat(Strategies.byName("ffa").name()).isEqualTo("ffa");
        assertThatThrownBy(() -> Strategies.byName("fedprox")).hasMessageContaining("fedprox");
        assertThat(new LoraScaling(16, 4, true).scale()).isEqualTo(8.0);
        assertThat(new LoraScaling(16, 4, false).scale()).isEqualTo(4.0);
        assertThat(new LoraLayer("m", 3, 5, 2, WeightLayout.CONV1D, new LoraScaling(4, 2, false)).baseShape()).containsExactly(5, 3);
    }

    private static INDArray folded(Fixture f, AggregationResult res) {
        INDArray base = f.base();
        res.residuals().get(f.layer.module()).foldInto(base, f.layer.layout());
        LoraFactors g = res.global().get(f.layer.module());
        return Nd4j.create(f.published(base, g));
    }
}
