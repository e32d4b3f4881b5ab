package io.fedlora.agent.model.ops;

import org.nd4j.linalg.api.ndarray.INDArray;

/** Residual additions and copies over whole arrays, split over the pool. */
public final class Elementwise {

    private Elementwise() {
    }

    /** out = a + b (out may alias a or b). */
    public static void add(INDArray a, INDArray b, INDArray out, Parallel par) {
        Dense as = Dense.of(a);
        Dense bs = Dense.of(b);
        Dense os = Dense.of(out);
        par.forRanges(as.length(), 1 << 14, (p, from, to) -> {
            for (int i = from; i < to; i++) {
                os.set(i, as.get(i) + bs.get(i));
            }
        });
    }
}
