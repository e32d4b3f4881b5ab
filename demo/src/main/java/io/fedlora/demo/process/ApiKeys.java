package io.fedlora.demo.process;

import java.security.SecureRandom;
import java.util.HexFormat;

/** Random admin API keys for coordinators started by the demo and the tests. */
public final class ApiKeys {

    private static final SecureRandom RANDOM = new SecureRandom();

    private ApiKeys() {
    }

    /** 128 random bits, hex-encoded. */
    public static String random() {
        byte[] bytes = new byte[16];
        RANDOM.nextBytes(bytes);
        return HexFormat.of().formatHex(bytes);
    }
}
