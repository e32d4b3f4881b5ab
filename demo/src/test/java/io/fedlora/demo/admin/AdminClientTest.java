package io.fedlora.demo.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import io.fedlora.demo.cli.DemoOptions;
import io.fedlora.demo.run.DemoFederations;

/**
 * Checks what the admin client puts on the wire (paths, API key header, JSON field names from
 * docs/CONTRACTS.md) against a loopback HTTP server that records requests.
 */
class AdminClientTest {

    private final ObjectMapper mapper = new ObjectMapper();
    private final List<String> requests = new CopyOnWriteArrayList<>();
    private final List<String> bodies = new CopyOnWriteArrayList<>();
    private HttpServer server;
    private AdminClient client;

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/api/v1/", this::handle);
        server.start();
        client = new AdminClient(URI.create("http://127.0.0.1:" + server.getAddress().getPort()), "k", mapper);
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private void handle(HttpExchange exchange) throws IOException {
        String line = exchange.getRequestMethod() + " " + exchange.getRequestURI().getPath() + " key="
                + exchange.getRequestHeaders().getFirst("X-API-Key");
        requests.add(line);
        bodies.add(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
        String path = exchange.getRequestURI().getPath();
        int status = 200;
        String body;
        if (path.endsWith("/federations") && exchange.getRequestMethod().equals("POST")) {
            status = 201;
            body = "{\"id\":\"f1\",\"status\":\"CREATED\",\"currentRound\":0}";
        } else if (path.endsWith("/enrolment-tokens")) {
            body = "{\"tokens\":[\"t1\",\"t2\"]}";
        } else if (path.endsWith("/models")) {
            body = "[{\"version\":2},{\"version\":0},{\"version\":1}]";
        } else if (path.endsWith("/federations/missing")) {
            status = 404;
            body = "{\"type\":\"about:blank\",\"title\":\"Not Found\",\"status\":404,\"detail\":\"no federation missing\"}";
        } else {
            body = "{\"id\":\"f1\",\"status\":\"RUNNING\",\"currentRound\":1}";
        }
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Content-Type", status >= 400 ? "application/problem+json" : "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
        exchange.close();
    }

    @Test
    void createsAFederationWithTheContractFieldNames() throws Exception {
        FederationSpec spec = DemoFederations.spec(DemoOptions.defaults(), "fedex", Path.of("/w/init/model"));
        FederationView created = client.createFederation(spec);
        assertThat(created.id()).isEqualTo("f1");
        assertThat(requests).containsExactly("POST /api/v1/federations key=k");
        JsonNode body = mapper.readTree(bodies.get(0));
        assertThat(body.path("baseModelPath").asText()).isEqualTo("/w/init/model");
        assertThat(body.path("targetModules")).extracting(JsonNode::asText).containsExactly("c_attn", "c_proj", "c_fc");
        assertThat(body.path("rank").asInt()).isEqualTo(8);
        assertThat(body.path("alpha").asDouble()).isEqualTo(16);
        assertThat(body.path("useRslora").asBoolean(true)).isFalse();
        assertThat(body.path("strategy").asText()).isEqualTo("fedex");
        assertThat(body.path("weighting").asText()).isEqualTo("examples");
        assertThat(body.path("clientsPerRound").path("minimum").asInt()).isEqualTo(3);
        assertThat(body.path("minClients").asInt()).isEqualTo(3);
        assertThat(body.path("evaluate").asBoolean()).isTrue();
        assertThat(body.path("training").path("localSteps").asInt()).isEqualTo(150);
        assertThat(body.path("training").path("learningRate").asDouble()).isEqualTo(0.005);
        assertThat(body.path("training").path("batchSize").asInt()).isEqualTo(8);
        assertThat(body.path("training").path("maxSeqLen").asInt()).isEqualTo(64);
        assertThat(body.path("maxUpdateNorm").asDouble()).isEqualTo(1000.0);
    }

    @Test
    void issuesTokensStartsAndListsVersionsInOrder() {
        assertThat(client.issueEnrolmentTokens("f1", 2, 60)).containsExactly("t1", "t2");
        assertThat(bodies.get(0)).contains("\"count\":2").contains("\"ttlSeconds\":60");
        client.start("f1");
        assertThat(client.modelVersions("f1")).containsExactly(0L, 1L, 2L);
        assertThat(requests).containsExactly(
                "POST /api/v1/federations/f1/enrolment-tokens key=k",
                "POST /api/v1/federations/f1/start key=k",
                "GET /api/v1/federations/f1/models key=k");
        assertThatThrownBy(() -> client.issueEnrolmentTokens("f1", 3, 60)).hasMessageContaining("asked for 3");
    }

    @Test
    void errorAnswersCarryTheProblemDetail() {
        assertThatThrownBy(() -> client.federation("missing"))
                .isInstanceOfSatisfying(AdminApiException.class, e -> assertThat(e.status()).isEqualTo(404))
                .hasMessageContaining("GET /api/v1/federations/missing answered HTTP 404")
                .hasMessageContaining("no federation missing");
    }
}
