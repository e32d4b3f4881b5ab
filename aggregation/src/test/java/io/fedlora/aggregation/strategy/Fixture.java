package io.fedlora.aggregation.strategy;

import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraLayer;
import io.fedlora.aggregation.lora.LoraScaling;
import io.fedlora.aggregation.lora.WeightLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Random federations plus an independent reference in plain Java {@code double} loops (no ND4J maths):
 * {@code sum w_i (W0 + s B_i A_i)} in the layer's layout.
 */
final class Fixture {

    final LoraLayer layer;
    final float[][] w0;            // in the layer's layout
    final List<float[][]> as = new ArrayList<>();
    final List<float[][]> bs = new ArrayList<>();
    final long[] counts;

    Fixture(int dOut, int dIn, int rank, int clients, WeightLayout layout, long seed, boolean sharedA) {
        Random rnd = new Random(seed);
        layer = new LoraLayer("h.0.attn.c_attn", dOut, dIn, rank, layout, new LoraScaling(2.0 * rank, rank, false));
        long[] shape = layout.baseShape(dOut, dIn);
        w0 = random(rnd, (int) shape[0], (int) shape[1], 0.1);
        counts = new long[clients];
        float[][] a0 = random(rnd, rank, dIn, 1.0);
        for (int i = 0; i < clients; i++) {
            as.add(sharedA ? a0 : random(rnd, rank, dIn, 1.0));
            bs.add(random(rnd, dOut, rank, 0.5));
            counts[i] = 1 + rnd.nextInt(200);
        }
    }

    static float[][] random(Random rnd, int rows, int cols, double std) {
        float[][] m = new float[rows][cols];
        for (float[] row : m) {
            for (int j = 0; j < cols; j++) {
                row[j] = (float) (rnd.nextGaussian() * std);
            }
        }
        return m;
    }

    int clients() {
        return counts.length;
    }

    double[] weights(Weighting weighting) {
        double[] w = new double[counts.length];
        double total = 0;
        for (int i = 0; i < w.length; i++) {
            w[i] = weighting == Weighting.EXAMPLES ? counts[i] : 1.0;
            total += w[i];
        }
        for (int i = 0; i < w.length; i++) {
            w[i] /= total;
        }
        return w;
    }

    ClientUpdate update(int i) {
        return new ClientUpdate("client-" + i, counts[i],
                Map.of(layer.module(), new LoraFactors(Nd4j.create(as.get(i)), Nd4j.create(bs.get(i)))));
    }

    INDArray base() {
        return Nd4j.create(w0).castTo(DataType.FLOAT);
    }

    /** {@code sum w_i (W0 + s B_i A_i)} in the layer's layout, in double. */
    double[][] exactAverage(Weighting weighting) {
        double[] w = weights(weighting);
        double s = layer.scaling().scale();
        double[][] out = toDouble(w0);
        for (int i = 0; i < w.length; i++) {
            addProduct(out, bs.get(i), as.get(i), s * w[i]);
        }
        return out;
    }

    /** {@code W + alpha * B A} (layout-aware), double loops. */
    void addProduct(double[][] out, float[][] b, float[][] a, double alpha) {
        int r = a.length;
        for (int o = 0; o < layer.dOut(); o++) {
            for (int in = 0; in < layer.dIn(); in++) {
                double acc = 0;
                for (int k = 0; k < r; k++) {
                    acc += (double) b[o][k] * a[k][in];
                }
                if (layer.layout() == WeightLayout.LINEAR) {
                    out[o][in] += alpha * acc;
                } else {
                    out[in][o] += alpha * acc;
                }
            }
        }
    }

    /** {@code W + s B'A'} for published factors, double loops. */
    double[][] published(INDArray foldedBase, LoraFactors global) {
        double[][] out = toDouble(foldedBase.toFloatMatrix());
        addProduct(out, global.b().toFloatMatrix(), global.a().toFloatMatrix(), layer.scaling().scale());
        return out;
    }

    static double[][] toDouble(float[][] m) {
        double[][] d = new double[m.length][];
        for (int i = 0; i < m.length; i++) {
            d[i] = new double[m[i].length];
            for (int j = 0; j < m[i].length; j++) {
                d[i][j] = m[i][j];
            }
        }
        return d;
    }

    static double relError(double[][] got, double[][] want) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < want.length; i++) {
            for (int j = 0; j < want[i].length; j++) {
                double e = got[i][j] - want[i][j];
                num += e * e;
                den += want[i][j] * want[i][j];
            }
        }
        return Math.sqrt(num / den);
    }

    AggregationResult run(String strategy, Weighting weighting, AccumulatorMode mode, List<Integer> order) {
        AggregationOptions opts = AggregationOptions.defaults(weighting, Map.of())
                .withBaseWeights(Map.of(layer.module(), base())).withMode(mode);
        RoundAggregator agg = Strategies.byName(strategy).begin(List.of(layer), opts);
        for (int i : order) {
            agg.add(update(i));
        }
        return agg.finish();
    }

    List<Integer> inOrder() {
        List<Integer> o = new ArrayList<>();
        for (int i = 0; i < clients(); i++) {
            o.add(i);
        }
        return o;
    }
}
