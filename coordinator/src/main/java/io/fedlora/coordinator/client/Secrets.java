package io.fedlora.coordinator.client;

import io.fedlora.coordinator.blob.BlobStore;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import org.springframework.stereotype.Component;

/**
 * Random bearer secrets (enrolment tokens, client credentials) and their stored form: the sha256 of
 * a 32-byte random secret, which needs no salt or slow hash because the secret has full entropy.
 */
@Component
public class Secrets {

    private final SecureRandom random = new SecureRandom();

    public String newSecret() {
        byte[] b = new byte[32];
        random.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    public static String hash(String secret) {
        return HexFormat.of().formatHex(BlobStore.sha256Digest().digest(secret.getBytes(StandardCharsets.UTF_8)));
    }
}
