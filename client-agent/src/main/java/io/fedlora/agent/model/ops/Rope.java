package io.fedlora.agent.model.ops;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Rotary position embeddings in HF's {@code rotate_half} convention (Llama, Mistral, Qwen2): within each head the
 * pair {@code (x[i], x[i + d/2])} at position p is rotated by the angle {@code p·θ^(−2i/d)}, i.e.
 * {@code y = x·cos + rotate_half(x)·sin} with {@code rotate_half(x) = [−x₂, x₁]} and HF's {@code cat(freqs, freqs)}
 * tables. Applied in place to row-major {@code [batch·seq, heads·headDim]} activations (row r is position
 * {@code r mod seq}: right-padded batches start every sequence at 0), so q and k are rotated where the projections
 * wrote them. A rotation's inverse is its transpose, so backward is the same loop with the sine negated.
 */
public final class Rope {

    private final int seq;
    private final int headDim;
    private final int half;
    private final double[] cos;
    private final double[] sin;

    /** Tables for positions {@code 0..seq-1} with base {@code theta} ({@code rope_theta}). */
    public Rope(int seq, int headDim, double theta) {
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("rotary embeddings need an even head dimension, got " + headDim);
        }
        this.seq = seq;
        this.headDim = headDim;
        this.half = headDim / 2;
        this.cos = new double[seq * half];
        this.sin = new double[seq * half];
        for (int i = 0; i < half; i++) {
            // HF computes the inverse frequencies and the angles in fp32; do the same so long sequences match it
            float invFreq = (float) (1.0 / Math.pow(theta, (float) (2 * i) / headDim));
            for (int p = 0; p < seq; p++) {
                float angle = (float) p * invFreq;
                cos[p * half + i] = Math.cos(angle);
                sin[p * half + i] = Math.sin(angle);
            }
        }
    }

    public int seq() {
        return seq;
    }

    /** Rotates every head of {@code x [batch·seq, heads·headDim]} in place. */
    public void forward(INDArray x, int heads, Parallel par) {
        rotate(x, heads, 1.0, par);
    }

    /** dx from dy in place: the transposed rotation (angle negated). */
    public void backward(INDArray d, int heads, Parallel par) {
        rotate(d, heads, -1.0, par);
    }

    private void rotate(INDArray x, int heads, double sign, Parallel par) {
        int n = (int) x.size(0);
        int width = (int) x.size(1);
        if (width != heads * headDim || n % seq != 0) {
            throw new IllegalArgumentException("rotary embeddings for " + heads + " heads of " + headDim + " over sequences of "
                    + seq + " do not fit an array of " + n + " x " + width);
        }
        Dense xs = Dense.of(x);
        par.forRanges(n, 16, (part, from, to) -> {
            double[] row = new double[width];
            for (int r = from; r < to; r++) {
                int o = r * width;
                int t = (r % seq) * half;
                xs.read(o, row, width);
                for (int h = 0; h < heads; h++) {
                    int b = h * headDim;
                    for (int i = 0; i < half; i++) {
                        double c = cos[t + i];
                        double s = sign * sin[t + i];
                        double x1 = row[b + i];
                        double x2 = row[b + half + i];
                        row[b + i] = x1 * c - x2 * s;
                        row[b + half + i] = x2 * c + x1 * s;
                    }
                }
                xs.write(o, row, width);
            }
        });
    }
}
