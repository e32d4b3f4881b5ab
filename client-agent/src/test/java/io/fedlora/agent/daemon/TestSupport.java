package io.fedlora.agent.daemon;

import io.fedlora.proto.v1.DType;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.TensorRole;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;

/** Small helpers shared by the daemon tests: properties for a loopback coordinator, fp32 wire bytes. */
final class TestSupport {

    private TestSupport() {}

    static AgentProperties props(String target, Path workDir, Path dataDir, String token) {
        return new AgentProperties(target, token, "test-node", dataDir, workDir,
                new AgentProperties.Tls(false, null, null, null, null), Duration.ofMillis(200), 0, io.fedlora.agent.data.BadLinePolicy.SKIP,
                Duration.ofMillis(200), Duration.ofSeconds(5), Duration.ofSeconds(30),
                new AgentProperties.Retry(Duration.ofMillis(40), Duration.ofMillis(200), 2.0, Duration.ofSeconds(3)), 1, null);
    }

    static byte[] f32(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return b.array();
    }

    static float[] fromF32(byte[] bytes) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[bytes.length / 4];
        for (int i = 0; i < out.length; i++) {
            out[i] = b.getFloat();
        }
        return out;
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Deterministic pseudo-random values in [-1, 1). */
    static float[] values(int n, long seed) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return out;
    }

    static ScriptedCoordinator.BundleTensor tensor(String name, TensorRole role, long[] shape, float[] values) {
        byte[] bytes = f32(values);
        TensorMeta.Builder meta = TensorMeta.newBuilder().setName(name).setRole(role).setDtype(DType.F32)
                .setSha256(sha256(bytes)).setByteSize(bytes.length);
        for (long d : shape) {
            meta.addShape(d);
        }
        return new ScriptedCoordinator.BundleTensor(meta.build(), bytes);
    }

    static ScriptedCoordinator.BundleTensor file(String name, byte[] bytes) {
        return new ScriptedCoordinator.BundleTensor(TensorMeta.newBuilder().setName(name).setRole(TensorRole.FILE)
                .setDtype(DType.U8).addShape(bytes.length).setSha256(sha256(bytes)).setByteSize(bytes.length).build(), bytes);
    }
}
