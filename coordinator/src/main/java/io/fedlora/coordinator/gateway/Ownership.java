package io.fedlora.coordinator.gateway;

import io.fedlora.coordinator.clientapi.AuthenticatedClient;
import io.fedlora.coordinator.clientapi.ClientApiException;
import io.fedlora.coordinator.clientapi.ClientApiException.Kind;
import java.util.LinkedHashMap;
import java.util.Map;

/** Checks and clean-ups shared by the client API's services. */
final class Ownership {

    private Ownership() {}

    /** A client acts only on its own federation. */
    static void require(AuthenticatedClient client, String federationId) {
        if (!client.federationId().equals(federationId)) {
            throw new ClientApiException(Kind.PERMISSION_DENIED, "client " + client.clientId() + " belongs to federation "
                    + client.federationId() + ", not " + federationId);
        }
    }

    /** Client-reported metrics without nulls, NaNs and infinities (they cannot be stored as JSON numbers). */
    static Map<String, Double> finiteMetrics(Map<String, Double> m) {
        Map<String, Double> out = new LinkedHashMap<>();
        if (m != null) {
            m.forEach((k, v) -> {
                if (v != null && Double.isFinite(v)) {
                    out.put(k, v);
                }
            });
        }
        return out;
    }
}
