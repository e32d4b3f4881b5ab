package io.fedlora.it.support;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;

import io.fedlora.it.support.ExactAggregationCheck.Layout;
import io.fedlora.it.support.ExactAggregationCheck.ModuleError;
import io.fedlora.it.support.ExactAggregationCheck.Round;

/**
 * The oracle of the end-to-end exactness tests can tell a right fold from a wrong one: on a synthetic round (three
 * clients, rank 2, scale 2) an export folded as FedEx-LoRA does in the weight's own layout passes, the same residual
 * folded transposed (the Conv1D fold applied to an {@code nn.Linear} weight, the published reference's bug) fails on
 * a square weight, and a weight of the other layout's shape is refused rather than silently transposed.
 */
class ExactAggregationCheckTest {

    private static final double SCALE = 2.0;
    private static final List<Double> WEIGHTS = List.of(0.2, 0.3, 0.5);

    @Test
    void aLinearFoldPassesAndTheConv1dFoldOfTheSameResidualFailsOnASquareWeight() {
        Random random = new Random(7);
        Fixture f = fixture(random, Layout.LINEAR, 6, 6);
        ModuleError right = f.error(f.fold(false));
        ModuleError transposed = f.error(f.fold(true));
        assertThat(right.exact()).isLessThan(1e-12);
        assertThat(right.merged()).isLessThan(1e-12);
        assertThat(right.fedit()).isGreaterThan(100 * ExactAggregationCheck.TOLERANCE);
        assertThat(transposed.exact()).as("residual folded transposed into a square nn.Linear weight")
                .isGreaterThan(100 * ExactAggregationCheck.TOLERANCE);
    }

    @Test
    void eachLayoutChecksItsOwnShapeOnNonSquareWeights() {
        Fixture linear = fixture(new Random(11), Layout.LINEAR, 4, 6);
        assertThat(linear.previous().rows()).isEqualTo(4);
        assertThat(linear.error(linear.fold(false)).exact()).isLessThan(1e-12);

        Fixture conv1d = fixture(new Random(11), Layout.CONV1D, 4, 6);
        assertThat(conv1d.previous().rows()).as("Conv1D stores d_in x d_out").isEqualTo(6);
        ModuleError right = conv1d.error(conv1d.fold(false));
        assertThat(right.exact()).isLessThan(1e-12);
        assertThat(right.merged()).isLessThan(1e-12);

        // the same Conv1D export judged as nn.Linear: its weight has the wrong shape, refused rather than transposed
        Round asLinear = new Round(Layout.LINEAR, SCALE, conv1d.previous(), conv1d.as(), conv1d.bs(), WEIGHTS);
        assertThatThrownBy(asLinear::target).isInstanceOf(AssertionError.class).hasMessageContaining("LINEAR layout");
    }

    @Test
    void theLayoutComesFromTheModelTypeInConfigJson(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws java.io.IOException {
        java.nio.file.Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"llama\"}");
        ExactAggregationCheck.Family llama = ExactAggregationCheck.Family.of(dir, List.of("q_proj", "down_proj"));
        assertThat(llama.layout()).isEqualTo(Layout.LINEAR);
        assertThat(llama.moduleSuffixes()).containsExactly("self_attn.q_proj", "mlp.down_proj");

        java.nio.file.Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"gpt2\"}");
        ExactAggregationCheck.Family gpt2 = ExactAggregationCheck.Family.of(dir, List.of("c_attn"));
        assertThat(gpt2.layout()).isEqualTo(Layout.CONV1D);
        assertThat(gpt2).isEqualTo(ExactAggregationCheck.Family.GPT2_C_ATTN);

        java.nio.file.Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"bert\"}");
        assertThatThrownBy(() -> ExactAggregationCheck.Family.of(dir, List.of("query")))
                .isInstanceOf(AssertionError.class).hasMessageContaining("bert");
    }

    @Test
    void theTransposedFoldIsMeasuredOnSquareWeightsOnly() {
        Fixture square = fixture(new Random(3), Layout.LINEAR, 6, 6);
        ModuleError right = square.error(square.fold(false));
        assertThat(right.transposedFold()).isGreaterThan(100 * ExactAggregationCheck.TOLERANCE);
        // the measure agrees with an export actually folded transposed
        assertThat(square.error(square.fold(true)).exact()).isCloseTo(right.transposedFold(),
                org.assertj.core.data.Percentage.withPercentage(1e-6));
        Fixture wide = fixture(new Random(3), Layout.LINEAR, 4, 6);
        assertThat(wide.error(wide.fold(false)).transposedFold()).isNaN();
    }

    /** A round on a random base in {@code layout} with {@code dOut x dIn} in nn.Linear terms. */
    private static Fixture fixture(Random random, Layout layout, int dOut, int dIn) {
        Matrix base = layout == Layout.LINEAR ? random(random, dOut, dIn) : random(random, dIn, dOut);
        List<Matrix> as = new ArrayList<>();
        List<Matrix> bs = new ArrayList<>();
        for (int i = 0; i < WEIGHTS.size(); i++) {
            as.add(random(random, 2, dIn));
            bs.add(random(random, dOut, 2));
        }
        return new Fixture(new Round(layout, SCALE, base, as, bs, WEIGHTS));
    }

    private static Matrix random(Random random, int rows, int cols) {
        double[] v = new double[rows * cols];
        for (int i = 0; i < v.length; i++) {
            v[i] = random.nextGaussian();
        }
        return new Matrix(rows, cols, v);
    }

    private record Fixture(Round round) {

        Matrix previous() {
            return round.previousBase();
        }

        List<Matrix> as() {
            return round.as();
        }

        List<Matrix> bs() {
            return round.bs();
        }

        /**
         * What a FedEx-LoRA coordinator exports: {@code W + s·R} with {@code R = Σ w_i B_i A_i − B'A'} ({@code d_out x d_in}),
         * added as it is ({@code transposed} false) or transposed; for a Conv1D weight the right fold is the transposed one.
         */
        Matrix fold(boolean transposed) {
            Matrix sum = null;
            for (int i = 0; i < WEIGHTS.size(); i++) {
                Matrix ba = round.bs().get(i).times(round.as().get(i));
                sum = sum == null ? ba.scaled(WEIGHTS.get(i)) : sum.plus(ba, WEIGHTS.get(i));
            }
            Matrix residual = sum.plus(round.meanB().times(round.meanA()), -1);
            boolean transpose = (round.layout() == Layout.CONV1D) != transposed;
            return previous().plus(transpose ? residual.transpose() : residual, SCALE);
        }

        ModuleError error(Matrix exportedBase) {
            Matrix merged = exportedBase.plus(round.layout().delta(round.meanB(), round.meanA(), exportedBase), SCALE);
            return round.error(1, "m", exportedBase, round.meanA(), round.meanB(), merged);
        }
    }
}
