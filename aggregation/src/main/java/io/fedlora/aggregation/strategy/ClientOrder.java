package io.fedlora.aggregation.strategy;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The canonical order of client ids in a round: by their UTF-8 bytes (unsigned), the same order as PostgreSQL's
 * {@code COLLATE "C"}, so a coordinator that sorts in SQL and one that sorts here agree.
 */
public final class ClientOrder {

    private ClientOrder() {
    }

    /** Compares two client ids by their UTF-8 bytes. */
    public static int compare(String a, String b) {
        return Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    }
}
