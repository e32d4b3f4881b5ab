package io.fedlora.aggregation.lora;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * PEFT's default LoRA initialisation: {@code A ~ kaiming_uniform_(a = sqrt(5))}, i.e. uniform in
 * {@code [-1/sqrt(d_in), 1/sqrt(d_in)]}, and {@code B = 0} so the adapted model starts equal to the base.
 * Deterministic from the seed and the module name (no global RNG), so every party derives the same A.
 */
public final class LoraInit {

    private LoraInit() {
    }

    public static LoraFactors init(LoraLayer layer, long seed) {
        SplittableRandom rnd = new SplittableRandom(mix(seed, layer.module()));
        double bound = 1.0 / Math.sqrt(layer.dIn());
        float[] a = new float[Math.multiplyExact(layer.rank(), layer.dIn())];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) rnd.nextDouble(-bound, bound);
        }
        INDArray aArr = Nd4j.create(a, new long[] {layer.rank(), layer.dIn()}, 'c');
        INDArray bArr = Nd4j.zeros(DataType.FLOAT, layer.dOut(), layer.rank());
        return new LoraFactors(aArr, bArr);
    }

    /** Seed for one module: FNV-1a of the name, combined with the run seed (stable across JVMs). */
    static long mix(long seed, String module) {
        long h = 0xcbf29ce484222325L;
        for (byte b : module.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xFF)) * 0x100000001b3L;
        }
        return h ^ (seed * 0x9E3779B97F4A7C15L);
    }
}
