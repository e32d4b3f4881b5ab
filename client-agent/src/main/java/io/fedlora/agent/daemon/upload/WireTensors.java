package io.fedlora.agent.daemon.upload;

import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Encodes tensors into the little-endian wire bytes of a protocol dtype and hashes them. */
final class WireTensors {

    private WireTensors() {}

    static byte[] encode(INDArray values, String dtype) {
        return SafetensorsWriter.toBytes(values, DType.valueOf(dtype));
    }

    static String sha256Hex(byte[] bytes) {
        return HexFormat.of().formatHex(sha256().digest(bytes));
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }
}
