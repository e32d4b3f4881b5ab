package io.fedlora.agent.daemon.work;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Derives a client's local training seed for one round from the federation's seed, the client's identity (its enrolment name) and the round:
 * reproducible for one client and round (a restarted agent retrains a round exactly), different between clients
 * (their data orders do not coincide) and between rounds (a client does not see the same batches every round).
 */
public final class Seeds {

    private Seeds() {}

    public static long forClientRound(long federationSeed, String clientId, int round) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(ByteBuffer.allocate(Long.BYTES + Integer.BYTES).putLong(federationSeed).putInt(round).array());
            sha.update(clientId.getBytes(StandardCharsets.UTF_8));
            return ByteBuffer.wrap(sha.digest()).getLong();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }
}
