package io.fedlora.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import io.fedlora.demo.admin.AdminClient;
import io.fedlora.demo.admin.FederationView;
import io.fedlora.it.support.EnvironmentExtension;
import io.fedlora.it.support.FederationEnvironment;
import io.fedlora.it.support.TestFederations;

/**
 * The admin-key bypass an outside probe found, replayed byte for byte against a coordinator running as its own
 * process: encoded letters and {@code ;} path parameters used to reach {@code /api/v1/...} without a key (the
 * audit log answered 200, an enrolment token was issued). Each spelling is now a 400 or 401 problem and issues
 * nothing, while the canonical request with the key still works.
 */
@Tag("e2e")
@ExtendWith(EnvironmentExtension.class)
class AdminPathBypassEndToEndTest {

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void encodedAndParameterisedPathsDoNotReachTheAdminApiWithoutTheKey(FederationEnvironment env) throws Exception {
        FederationEnvironment.Coordinator coordinator = env.sharedCoordinator();
        AdminClient admin = env.admin(coordinator);
        FederationView federation = admin.createFederation(TestFederations.spec("fedex", 1, 1, 1, 600, false, env.modelDir()));
        URI base = coordinator.process().baseUri();
        String tokens = "/v1/federations/" + federation.id() + "/enrolment-tokens";
        long before = tokenRows(coordinator, federation.id());

        for (String target : List.of("/%61pi/v1/audit", "/%61%70%69/v1/audit", "/api;x/v1/audit", "/api/v1;x/audit",
                "/api/v1/audit;x", "//api/v1/audit", "/api/./v1/audit", "/x/../api/v1/audit", "/API/v1/audit",
                "/api/v1/audit/", "/api/v1/audit.json", "/api/v1/audit%00", "/api%2Fv1/audit", "/api\\v1/audit",
                "/actuator/health/../../api/v1/audit", "/dashboard/..;/api/v1/audit")) {
            Answer a = send(base, "GET", target, null);
            assertThat(a.status()).as("GET " + target + ": " + a.text()).isIn(400, 401);
            assertThat(a.text()).as(target).contains("application/problem+json").doesNotContain("\"actor\"");
        }
        for (String target : List.of("/api;x" + tokens, "/%61pi" + tokens, "/api" + tokens.replace("/v1", "/v1;"),
                "/api/" + tokens)) {
            Answer a = send(base, "POST", target, null);
            assertThat(a.status()).as("POST " + target + ": " + a.text()).isIn(400, 401);
            assertThat(a.text()).as(target).doesNotContain("tokens\"");
        }
        assertThat(tokenRows(coordinator, federation.id())).as("no enrolment token was issued").isEqualTo(before);

        assertThat(send(base, "GET", "/api/v1/audit", null).status()).isEqualTo(401);
        assertThat(send(base, "GET", "/api/v1/audit", coordinator.process().apiKey()).status()).isEqualTo(200);
        assertThat(send(base, "POST", "/api" + tokens, coordinator.process().apiKey()).status()).isEqualTo(201);
        assertThat(tokenRows(coordinator, federation.id())).isEqualTo(before + 1);
    }

    private static long tokenRows(FederationEnvironment.Coordinator coordinator, String federationId) throws Exception {
        return coordinator.database().count("SELECT count(*) FROM enrolment_tokens WHERE federation_id = ?",
                java.util.UUID.fromString(federationId));
    }

    private record Answer(int status, String text) {}

    /** HTTP/1.1 over a socket, so the request target goes out exactly as written (no client normalises it). */
    private static Answer send(URI base, String method, String target, String key) throws IOException {
        StringBuilder req = new StringBuilder(method + " " + target + " HTTP/1.1\r\nHost: " + base.getHost() + ":" + base.getPort()
                + "\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 0\r\n");
        if (key != null) {
            req.append("X-API-Key: ").append(key).append("\r\n");
        }
        req.append("\r\n");
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(base.getHost(), base.getPort()), 5000);
            s.setSoTimeout(15000);
            OutputStream out = s.getOutputStream();
            out.write(req.toString().getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            String text = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            return new Answer(Integer.parseInt(text.split(" ", 3)[1]), text);
        }
    }
}
