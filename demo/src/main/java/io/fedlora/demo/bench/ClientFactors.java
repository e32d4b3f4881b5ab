package io.fedlora.demo.bench;

import io.fedlora.proto.v1.TensorMeta;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

/**
 * The random LoRA factors a simulated client uploads, regenerated from (seed, client, round, tensor) whenever
 * needed: the clients never keep them and the exactness check recomputes them, so neither grows with the count.
 */
final class ClientFactors {

    private ClientFactors() {
    }

    /** Example count of client {@code i}: 1 to 1000, fixed per client. */
    static long examples(long seed, int client) {
        return 1 + new SplittableRandom(seed * 1_000_003L + client).nextInt(1000);
    }

    /** The fp32 values of one expected tensor (Gaussian, std 0.02). */
    static float[] values(long seed, int client, int round, int tensorIndex, TensorMeta meta) {
        long n = 1;
        for (long d : meta.getShapeList()) {
            n *= d;
        }
        SplittableRandom rnd = new SplittableRandom(((seed * 31 + client) * 1_000_003L + round) * 131 + tensorIndex);
        float[] out = new float[Math.toIntExact(n)];
        for (int i = 0; i < out.length; i++) {
            // Irwin-Hall(4) approximation of a Gaussian: cheap and deterministic
            double g = rnd.nextDouble() + rnd.nextDouble() + rnd.nextDouble() + rnd.nextDouble() - 2.0;
            out[i] = (float) (g * 0.02 * Math.sqrt(3.0));
        }
        return out;
    }

    static byte[] littleEndian(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.array();
    }
}
