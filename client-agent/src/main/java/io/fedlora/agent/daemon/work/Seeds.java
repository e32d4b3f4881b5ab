package io.fedlora.agent.daemon.work;

import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Derives a client's local training seed from the federation's seed and the client id: reproducible for one
 * client, different between clients (so their data order and dropout-free noise do not coincide).
 */
public final class Seeds {

    private Seeds() {}

    public static long forClient(long federationSeed, String clientId) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(ByteBuffer.allocate(Long.BYTES).putLong(federationSeed).array());
            sha.update(clientId.getBytes(StandardCharsets.UTF_8));
            return ByteBuffer.wrap(sha.digest()).getLong();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }
}
