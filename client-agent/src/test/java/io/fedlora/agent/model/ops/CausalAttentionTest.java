package io.fedlora.agent.model.ops;

import io.fedlora.agent.daemon.NativeThreads;
import io.fedlora.agent.model.ops.Blas.Region;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.SplittableRandom;

import static io.fedlora.agent.model.ops.FiniteDifferences.maxRelativeError;
import static io.fedlora.agent.model.ops.FiniteDifferences.random;
import static io.fedlora.agent.model.ops.FiniteDifferences.weightedSum;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Grouped-query causal attention (4 query heads sharing 2 key/value heads, a sequence longer than one row block)
 * against a naive fp64 reference, and its backward against central differences of a random linear functional.
 */
class CausalAttentionTest {

    private static final int B = 2;
    private static final int T = CausalAttention.BLOCK + 9;
    private static final int H = 4;
    private static final int KV = 2;
    private static final int D = 3;

    @BeforeAll
    static void oneThread() {
        NativeThreads.apply(1);
    }

    /** y[b·T + i, h·D + e] = Σ_{j ≤ i} softmax_j(q_i·k_j / sqrt(D)) v_j[e], with kv head h / (H/KV). */
    private static double[] reference(INDArray q, INDArray k, INDArray v) {
        double[] y = new double[B * T * H * D];
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < H; h++) {
                int g = h / (H / KV);
                for (int i = 0; i < T; i++) {
                    double[] s = new double[i + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= i; j++) {
                        double dot = 0;
                        for (int e = 0; e < D; e++) {
                            dot += q.getDouble(b * T + i, h * D + e) * k.getDouble(b * T + j, g * D + e);
                        }
                        s[j] = dot / Math.sqrt(D);
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= i; j++) {
                        s[j] = Math.exp(s[j] - max);
                        sum += s[j];
                    }
                    for (int e = 0; e < D; e++) {
                        double acc = 0;
                        for (int j = 0; j <= i; j++) {
                            acc += s[j] / sum * v.getDouble(b * T + j, g * D + e);
                        }
                        y[(b * T + i) * H * D + h * D + e] = acc;
                    }
                }
            }
        }
        return y;
    }

    private static INDArray forward(INDArray q, INDArray k, INDArray v, Parallel par) {
        INDArray y = Nd4j.zeros(DataType.DOUBLE, B * T, H * D);
        new CausalAttention(B, T, H, KV, D).forward(Region.of(q), Region.of(k), Region.of(v), Region.of(y), par);
        return y;
    }

    @Test
    void matchesTheNaiveReferenceAtAnyPoolWidth() {
        SplittableRandom rng = new SplittableRandom(3);
        INDArray q = random(rng, B * T, H * D);
        INDArray k = random(rng, B * T, KV * D);
        INDArray v = random(rng, B * T, KV * D);
        double[] ref = reference(q, k, v);
        INDArray y1 = forward(q, k, v, Parallel.of(1));
        INDArray y2 = forward(q, k, v, Parallel.of(2).splittingEverything());
        double worst = 0;
        for (int i = 0; i < ref.length; i++) {
            worst = Math.max(worst, Math.abs(y1.getDouble(i) - ref[i]));
        }
        assertThat(worst).isLessThan(1e-12);
        assertThat(y2).isEqualTo(y1);
    }

    @Test
    void backwardMatchesFiniteDifferences() {
        SplittableRandom rng = new SplittableRandom(4);
        INDArray q = random(rng, B * T, H * D);
        INDArray k = random(rng, B * T, KV * D);
        INDArray v = random(rng, B * T, KV * D);
        INDArray w = random(rng, B * T, H * D); // loss = Σ w ⊙ y, so dy = w
        CausalAttention att = new CausalAttention(B, T, H, KV, D);
        INDArray y = Nd4j.zeros(DataType.DOUBLE, B * T, H * D);
        double[] lse = att.forward(Region.of(q), Region.of(k), Region.of(v), Region.of(y), Parallel.of(2).splittingEverything());
        INDArray dq = Nd4j.zeros(DataType.DOUBLE, B * T, H * D);
        INDArray dk = Nd4j.zeros(DataType.DOUBLE, B * T, KV * D);
        INDArray dv = Nd4j.zeros(DataType.DOUBLE, B * T, KV * D);
        att.backward(Region.of(w), Region.of(q), Region.of(k), Region.of(v), lse, Region.of(dq), Region.of(dk), Region.of(dv), Parallel.of(2).splittingEverything());
        double worst = 0;
        for (INDArray[] pair : new INDArray[][]{{q, dq}, {k, dk}, {v, dv}}) {
            worst = Math.max(worst, maxRelativeError(pair[0], pair[1], () -> weightedSum(w, forward(q, k, v, Parallel.of(1))),
                    0, 23, 1e-6));
        }
        assertThat(worst).isLessThan(1e-4);
    }

    /** On fp32 arrays (FastExp instead of Math.exp, fp32 score scratch) outputs and gradients match fp64 to fp32 rounding. */
    @Test
    void fp32RowsMatchTheFp64Kernel() {
        SplittableRandom rng = new SplittableRandom(5);
        INDArray q = random(rng, B * T, H * D).muli(3);
        INDArray k = random(rng, B * T, KV * D).muli(3);
        INDArray v = random(rng, B * T, KV * D);
        INDArray w = random(rng, B * T, H * D);
        INDArray[] d64 = forwardBackward(q, k, v, w);
        INDArray[] d32 = forwardBackward(q.castTo(DataType.FLOAT), k.castTo(DataType.FLOAT), v.castTo(DataType.FLOAT),
                w.castTo(DataType.FLOAT));
        String[] names = {"y", "dq", "dk", "dv"};
        for (int t = 0; t < names.length; t++) {
            double scale = d64[t].amaxNumber().doubleValue();
            double worst = d32[t].castTo(DataType.DOUBLE).sub(d64[t]).amaxNumber().doubleValue() / scale;
            assertThat(worst).as(names[t]).isLessThan(2e-6);
        }
    }

    /**
     * Backward from the forward's kept probabilities (no recomputation) gives fp32 gradients as close to fp64 as the
     * recomputing backward, and the same output; the kept array holds each row's softmax (rows sum to 1, zero above
     * the diagonal).
     */
    @Test
    void keptProbabilitiesGiveTheSameGradients() {
        SplittableRandom rng = new SplittableRandom(6);
        INDArray q = random(rng, B * T, H * D).muli(3);
        INDArray k = random(rng, B * T, KV * D).muli(3);
        INDArray v = random(rng, B * T, KV * D);
        INDArray w = random(rng, B * T, H * D);
        assertThat(new CausalAttention(B, T, H, KV, D).keepsProbabilities(DataType.FLOAT)).isTrue();
        assertThat(new CausalAttention(B, T, H, KV, D).keepsProbabilities(DataType.DOUBLE)).isFalse();
        INDArray[] d64 = forwardBackward(q, k, v, w);
        INDArray[] recomputed = forwardBackward(q.castTo(DataType.FLOAT), k.castTo(DataType.FLOAT), v.castTo(DataType.FLOAT),
                w.castTo(DataType.FLOAT));
        INDArray probs = Nd4j.zeros(DataType.FLOAT, B * H * T, T);
        INDArray[] kept = forwardBackward(q.castTo(DataType.FLOAT), k.castTo(DataType.FLOAT), v.castTo(DataType.FLOAT),
                w.castTo(DataType.FLOAT), probs);
        assertThat(kept[0]).isEqualTo(recomputed[0]);
        String[] names = {"y", "dq", "dk", "dv"};
        for (int t = 0; t < names.length; t++) {
            double scale = d64[t].amaxNumber().doubleValue();
            double worst = kept[t].castTo(DataType.DOUBLE).sub(d64[t]).amaxNumber().doubleValue() / scale;
            assertThat(worst).as(names[t]).isLessThan(2e-6);
        }
        for (int r = 0; r < B * H * T; r++) {
            int i = r % T;
            double sum = 0;
            for (int j = 0; j < T; j++) {
                double p = probs.getDouble(r, j);
                if (j > i) {
                    assertThat(p).as("row %d col %d", r, j).isZero();
                }
                sum += p;
            }
            assertThat(sum).as("row %d", r).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));
        }
    }

    private static INDArray[] forwardBackward(INDArray q, INDArray k, INDArray v, INDArray w) {
        return forwardBackward(q, k, v, w, null);
    }

    private static INDArray[] forwardBackward(INDArray q, INDArray k, INDArray v, INDArray w, INDArray probs) {
        DataType type = q.dataType();
        CausalAttention att = new CausalAttention(B, T, H, KV, D);
        Parallel par = Parallel.of(2).splittingEverything();
        INDArray y = Nd4j.zeros(type, B * T, H * D);
        double[] lse = att.forward(Region.of(q), Region.of(k), Region.of(v), Region.of(y), probs, par);
        INDArray dq = Nd4j.zeros(type, B * T, H * D);
        INDArray dk = Nd4j.zeros(type, B * T, KV * D);
        INDArray dv = Nd4j.zeros(type, B * T, KV * D);
        att.backward(Region.of(w), Region.of(q), Region.of(k), Region.of(v), lse, probs, Region.of(dq), Region.of(dk), Region.of(dv), par);
        return new INDArray[]{y, dq, dk, dv};
    }
}
