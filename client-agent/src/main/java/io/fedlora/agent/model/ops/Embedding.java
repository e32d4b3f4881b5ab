package io.fedlora.agent.model.ops;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Token embedding lookup, optionally plus learned absolute positions ({@code x[b·t + p] = wte[id] + wpe[p]}), and its
 * backward as a scatter-add in row order (deterministic).
 */
public final class Embedding {

    private Embedding() {
    }

    /** @param wpe may be null (no learned positions) */
    public static void forward(INDArray wte, INDArray wpe, int[] ids, int seq, INDArray x) {
        int vocab = (int) wte.size(0);
        int c = (int) wte.size(1);
        Dense e = Dense.of(wte);
        Dense p = wpe == null ? null : Dense.of(wpe);
        Dense xs = Dense.of(x);
        if (e instanceof Dense.F32 fe && (p == null || p instanceof Dense.F32) && xs instanceof Dense.F32 fx) {
            forwardF32(fe, (Dense.F32) p, ids, seq, vocab, c, fx);
            return;
        }
        for (int r = 0; r < ids.length; r++) {
            int id = ids[r];
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("token id " + id + " outside the vocabulary of " + vocab);
            }
            int eo = id * c;
            int po = (r % seq) * c;
            int xo = r * c;
            for (int j = 0; j < c; j++) {
                xs.set(xo + j, p == null ? e.get(eo + j) : e.get(eo + j) + p.get(po + j));
            }
        }
    }

    /**
     * fp32 arrays: rows gathered by bulk copies and added in fp32 (the correctly rounded sum, as the element path's
     * fp64 sum rounded to fp32), the whole output written at once.
     */
    private static void forwardF32(Dense.F32 e, Dense.F32 p, int[] ids, int seq, int vocab, int c, Dense.F32 xs) {
        float[] out = new float[ids.length * c];
        float[] pos = new float[c];
        for (int r = 0; r < ids.length; r++) {
            int id = ids[r];
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("token id " + id + " outside the vocabulary of " + vocab);
            }
            int xo = r * c;
            e.getFloats(id * c, pos, c);
            System.arraycopy(pos, 0, out, xo, c);
            if (p != null) {
                p.getFloats((r % seq) * c, pos, c);
                for (int j = 0; j < c; j++) {
                    out[xo + j] += pos[j];
                }
            }
        }
        xs.putFloats(0, out, out.length);
    }

    /** dWte[id] += dx[r] and, when dWpe is non-null, dWpe[p] += dx[r]; both accumulate. */
    public static void backward(INDArray dx, int[] ids, int seq, INDArray dWte, INDArray dWpe) {
        int c = (int) dx.size(1);
        Dense d = Dense.of(dx);
        Dense dw = dWte == null ? null : Dense.of(dWte);
        Dense dp = dWpe == null ? null : Dense.of(dWpe);
        for (int r = 0; r < ids.length; r++) {
            int xo = r * c;
            int eo = ids[r] * c;
            int po = (r % seq) * c;
            for (int j = 0; j < c; j++) {
                double g = d.get(xo + j);
                if (dw != null) {
                    dw.add(eo + j, g);
                }
                if (dp != null) {
                    dp.add(po + j, g);
                }
            }
        }
    }
}
