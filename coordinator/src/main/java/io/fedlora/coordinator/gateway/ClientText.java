package io.fedlora.coordinator.gateway;

import io.fedlora.coordinator.clientapi.ClientApiException;
import io.fedlora.coordinator.clientapi.ClientApiException.Kind;
import java.util.Map;

/**
 * Free text a client sends (names, labels, states): bounded in length and free of NUL, which PostgreSQL text
 * cannot hold; refused with INVALID_ARGUMENT naming the field instead of failing in the database.
 */
final class ClientText {

    private ClientText() {}

    static void require(String field, String value, int maxLength) {
        if (value == null) {
            return;
        }
        if (value.length() > maxLength) {
            throw new ClientApiException(Kind.INVALID_ARGUMENT, field + " is longer than " + maxLength + " characters");
        }
        if (value.indexOf('\0') >= 0) {
            throw new ClientApiException(Kind.INVALID_ARGUMENT, field + " contains a NUL character");
        }
    }

    static void requireLabels(Map<String, String> labels) {
        if (labels == null) {
            return;
        }
        if (labels.size() > 64) {
            throw new ClientApiException(Kind.INVALID_ARGUMENT, "at most 64 labels, got " + labels.size());
        }
        labels.forEach((k, v) -> {
            require("label name", k, 200);
            require("label '" + k + "'", v, 1000);
        });
    }
}
