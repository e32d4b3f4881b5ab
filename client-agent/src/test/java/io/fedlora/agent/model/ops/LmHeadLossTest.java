package io.fedlora.agent.model.ops;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.SplittableRandom;

import static io.fedlora.agent.model.ops.FiniteDifferences.random;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The fused LM head and loss, in chunks of any size (one row, uneven, one chunk for all) and split over the pool,
 * against a plain fp64 reference of materialised logits: loss, dLoss/dh and dLoss/dW.
 */
class LmHeadLossTest {

    private static final int N = 37;
    private static final int C = 8;
    private static final int VOCAB = 50;

    /** The reference: loss, dh [N·C] and dW [VOCAB·C] by plain loops in fp64. */
    private static double reference(double[] h, double[] w, int[] targets, float[] weights, double count, double[] dh,
                                    double[] dw) {
        double total = 0;
        for (int r = 0; r < N; r++) {
            double[] z = new double[VOCAB];
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < VOCAB; v++) {
                for (int k = 0; k < C; k++) {
                    z[v] += h[r * C + k] * w[v * C + k];
                }
                max = Math.max(max, z[v]);
            }
            double sum = 0;
            for (int v = 0; v < VOCAB; v++) {
                sum += Math.exp(z[v] - max);
            }
            total += weights[r] * (Math.log(sum) + max - z[targets[r]]);
            for (int v = 0; v < VOCAB; v++) {
                double g = weights[r] / count * (Math.exp(z[v] - max) / sum - (v == targets[r] ? 1 : 0));
                for (int k = 0; k < C; k++) {
                    dh[r * C + k] += g * w[v * C + k];
                    dw[v * C + k] += g * h[r * C + k];
                }
            }
        }
        return total;
    }

    @Test
    void anyChunkingGivesTheReferenceLossAndGradients() {
        SplittableRandom rng = new SplittableRandom(12);
        INDArray h64 = random(rng, N, C).muli(2);
        INDArray w64 = random(rng, VOCAB, C);
        int[] targets = new int[N];
        float[] weights = new float[N];
        double counted = 0;
        for (int r = 0; r < N; r++) {
            targets[r] = rng.nextInt(VOCAB);
            weights[r] = r % 5 == 3 ? 0f : 1f;
            counted += weights[r];
        }
        double count = counted;
        double[] dhRef = new double[N * C];
        double[] dwRef = new double[VOCAB * C];
        double lossRef = reference(h64.dup().reshape(N * C).toDoubleVector(), w64.dup().reshape(VOCAB * C).toDoubleVector(),
                targets, weights, count, dhRef, dwRef);
        for (DataType type : new DataType[]{DataType.DOUBLE, DataType.FLOAT}) {
            double tol = type == DataType.DOUBLE ? 1e-12 : 2e-6;
            INDArray h = h64.castTo(type).dup('c');
            INDArray w = w64.castTo(type).dup('c');
            for (int chunk : new int[]{1, 7, 16, N, 100}) {
                for (Parallel par : new Parallel[]{Parallel.of(1), Parallel.of(2).splittingEverything()}) {
                    INDArray dh = Nd4j.zeros(type, N, C);
                    INDArray dw = Nd4j.zeros(type, VOCAB, C);
                    double loss = par.exclusive(() -> LmHeadLoss.forward(h, w, targets, weights, count, dh, dw, par, chunk));
                    String as = type + ", chunks of " + chunk + ", " + par.threads() + " threads";
                    assertThat(loss / count).as(as).isCloseTo(lossRef / count, within(tol));
                    double[] dhv = dh.dup().reshape(N * C).toDoubleVector();
                    double[] dwv = dw.dup().reshape(VOCAB * C).toDoubleVector();
                    for (int i = 0; i < dhv.length; i++) {
                        assertThat(dhv[i]).as(as + ", dh[%d]", i).isCloseTo(dhRef[i], within(tol));
                    }
                    for (int i = 0; i < dwv.length; i++) {
                        assertThat(dwv[i]).as(as + ", dW[%d]", i).isCloseTo(dwRef[i], within(tol));
                    }
                    double lossOnly = par.exclusive(() -> LmHeadLoss.forward(h, w, targets, weights, count, null, null, par, chunk));
                    assertThat(lossOnly).as(as + ", forward only").isEqualTo(loss);
                }
            }
        }
    }

    @Test
    void chunksAreAsFewAsTheScratchLimitAllowsAndEven() {
        // GPT-2's vocabulary: 1024 rows as two chunks of 512 (103 MB of fp32 logits), not seven of 166
        assertThat(LmHeadLoss.chunkRows(1024, 50257)).isEqualTo(512);
        assertThat(LmHeadLoss.chunkRows(1000, 50257)).isEqualTo(500);
        assertThat(LmHeadLoss.chunkRows(300, 50257)).isEqualTo(300);
        // a small vocabulary: all rows at once
        assertThat(LmHeadLoss.chunkRows(512, 257)).isEqualTo(512);
        // Llama 3's vocabulary: within the limit, even
        int rows = LmHeadLoss.chunkRows(5000, 128256);
        assertThat((long) rows * 128256).isLessThanOrEqualTo(LmHeadLoss.CHUNK_ELEMENTS);
        assertThat(rows).isEqualTo(250);
        assertThat(LmHeadLoss.chunkRows(0, 50257)).isEqualTo(1);
    }
}
