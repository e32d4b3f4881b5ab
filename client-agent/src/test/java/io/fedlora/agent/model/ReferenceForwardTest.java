package io.fedlora.agent.model;

import io.fedlora.agent.daemon.NativeThreads;
import io.fedlora.aggregation.lora.LoraFactors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The batched INDArray forward against a plain-Java transcription of HF's GPT-2 (one head at a time, explicit loops,
 * Conv1D {@code x·W + b}, gelu_new, causal softmax, tied head), with a LoRA adapter on c_attn. It guards the head
 * split/merge reshapes and the adapter's layout, which the gradient check (forward vs its own backward) cannot.
 */
class ReferenceForwardTest {

    private static final Gpt2Config CONFIG = new Gpt2Config(2, 4, 16, 12, 29, 1e-5);

    @BeforeAll
    static void oneNativeThread() {
        NativeThreads.apply(1);
    }

    @Test
    void matchesAPlainJavaGpt2() {
        Gpt2Model model = Gpt2Model.initialise(CONFIG, 17).castTo(DataType.DOUBLE);
        java.util.SplittableRandom rng = new java.util.SplittableRandom(4);
        model.weights().forEach((k, w) -> {
            double[] d = w.dup('c').data().asDouble();
            for (int i = 0; i < d.length; i++) {
                d[i] = k.contains("ln_") ? 1 + rng.nextDouble(-0.3, 0.3) : d[i] * 15;
            }
            w.assign(Nd4j.create(d, w.shape(), 'c'));
        });
        INDArray a = Nd4j.rand(DataType.DOUBLE, 3, 16).subi(0.5);
        INDArray b = Nd4j.rand(DataType.DOUBLE, 48, 3).subi(0.5);
        double scale = 0.7;
        int[] ids = {3, 17, 28, 8, 8, 1, 0};
        INDArray logits = new Gpt2Network(model, Map.of("h.1.attn.c_attn", new LoraFactors(a, b)), scale)
                .logits(TokenBatch.of(List.of(ids), List.of(1)));

        double[][] expected = reference(model, ids, toMatrix(a), toMatrix(b), scale);
        for (int t = 0; t < expected.length; t++) {
            for (int v = 0; v < CONFIG.vocabSize(); v++) {
                assertThat(logits.getDouble(t, v)).as("logit [%d, %d]", t, v).isCloseTo(expected[t][v], org.assertj.core.data.Offset.offset(1e-9));
            }
        }
    }

    private static double[][] reference(Gpt2Model m, int[] seq, double[][] loraA, double[][] loraB, double s) {
        int c = CONFIG.nEmbd();
        int h = CONFIG.nHead();
        int d = c / h;
        int t = seq.length - 1;
        double[][] wte = toMatrix(m.weight("wte.weight"));
        double[][] wpe = toMatrix(m.weight("wpe.weight"));
        double[][] x = new double[t][c];
        for (int i = 0; i < t; i++) {
            for (int j = 0; j < c; j++) {
                x[i][j] = wte[seq[i]][j] + wpe[i][j];
            }
        }
        for (int l = 0; l < CONFIG.nLayer(); l++) {
            String p = "h." + l + ".";
            double[][] h1 = layerNorm(x, m, p + "ln_1");
            double[][] qkv = conv1d(h1, m, p + "attn.c_attn");
            if (l == 1) {
                // + s · (h1 · Aᵀ) · Bᵀ
                double[][] u = matmul(h1, transpose(loraA));
                double[][] delta = matmul(u, transpose(loraB));
                for (int i = 0; i < t; i++) {
                    for (int j = 0; j < 3 * c; j++) {
                        qkv[i][j] += s * delta[i][j];
                    }
                }
            }
            double[][] att = new double[t][c];
            for (int head = 0; head < h; head++) {
                for (int i = 0; i < t; i++) {
                    double[] w = new double[i + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= i; j++) {
                        double dot = 0;
                        for (int e = 0; e < d; e++) {
                            dot += qkv[i][head * d + e] * qkv[j][c + head * d + e];
                        }
                        w[j] = dot / Math.sqrt(d);
                        max = Math.max(max, w[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= i; j++) {
                        w[j] = Math.exp(w[j] - max);
                        sum += w[j];
                    }
                    for (int j = 0; j <= i; j++) {
                        for (int e = 0; e < d; e++) {
                            att[i][head * d + e] += w[j] / sum * qkv[j][2 * c + head * d + e];
                        }
                    }
                }
            }
            x = add(x, conv1d(att, m, p + "attn.c_proj"));
            double[][] fc = conv1d(layerNorm(x, m, p + "ln_2"), m, p + "mlp.c_fc");
            for (double[] row : fc) {
                for (int j = 0; j < row.length; j++) {
                    double v = row[j];
                    row[j] = 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
                }
            }
            x = add(x, conv1d(fc, m, p + "mlp.c_proj"));
        }
        return matmul(layerNorm(x, m, "ln_f"), transpose(wte));
    }

    private static double[][] layerNorm(double[][] x, Gpt2Model m, String name) {
        double[] g = m.weight(name + ".weight").toDoubleVector();
        double[] b = m.weight(name + ".bias").toDoubleVector();
        double[][] out = new double[x.length][];
        for (int i = 0; i < x.length; i++) {
            double mean = 0;
            for (double v : x[i]) {
                mean += v / x[i].length;
            }
            double var = 0;
            for (double v : x[i]) {
                var += (v - mean) * (v - mean) / x[i].length;
            }
            out[i] = new double[x[i].length];
            for (int j = 0; j < x[i].length; j++) {
                out[i][j] = (x[i][j] - mean) / Math.sqrt(var + CONFIG.layerNormEpsilon()) * g[j] + b[j];
            }
        }
        return out;
    }

    private static double[][] conv1d(double[][] x, Gpt2Model m, String module) {
        double[][] y = matmul(x, toMatrix(m.weight(module + ".weight")));
        double[] bias = m.weight(module + ".bias").toDoubleVector();
        for (double[] row : y) {
            for (int j = 0; j < row.length; j++) {
                row[j] += bias[j];
            }
        }
        return y;
    }

    private static double[][] matmul(double[][] a, double[][] b) {
        double[][] c = new double[a.length][b[0].length];
        for (int i = 0; i < a.length; i++) {
            for (int k = 0; k < b.length; k++) {
                for (int j = 0; j < b[0].length; j++) {
                    c[i][j] += a[i][k] * b[k][j];
                }
            }
        }
        return c;
    }

    private static double[][] transpose(double[][] a) {
        double[][] t = new double[a[0].length][a.length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                t[j][i] = a[i][j];
            }
        }
        return t;
    }

    private static double[][] add(double[][] a, double[][] b) {
        double[][] c = new double[a.length][a[0].length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                c[i][j] = a[i][j] + b[i][j];
            }
        }
        return c;
    }

    private static double[][] toMatrix(INDArray w) {
        return w.toDoubleMatrix();
    }
}
