package io.fedlora.coordinator.openapi;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fedlora.coordinator.support.CoordinatorTestBase;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * The OpenAPI document served without a key at {@code /v3/api-docs} describes the admin API as it behaves: the
 * X-API-Key scheme on every operation, the real success codes, the shared problem answers, nullable fields and the
 * constraints the server enforces; and Swagger UI is served beside it.
 */
class OpenApiDocumentTest extends CoordinatorTestBase {

    @LocalServerPort int port;
    @Autowired ObjectMapper mapper;
    private final HttpClient http = HttpClient.newHttpClient();
    private JsonNode doc;

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @BeforeEach
    void fetch() throws Exception {
        HttpResponse<String> r = get("/v3/api-docs");
        assertThat(r.statusCode()).as("the document needs no key").isEqualTo(200);
        doc = mapper.readTree(r.body());
    }

    private List<Map.Entry<String, JsonNode>> adminOperations() {
        List<Map.Entry<String, JsonNode>> ops = new ArrayList<>();
        doc.path("paths").fields().forEachRemaining(p -> p.getValue().fields().forEachRemaining(
                m -> ops.add(Map.entry(m.getKey().toUpperCase() + " " + p.getKey(), m.getValue()))));
        return ops;
    }

    @Test
    void titleVersionAndDescription() {
        assertThat(doc.path("openapi").asText()).startsWith("3.0");
        assertThat(doc.path("info").path("title").asText()).isEqualTo("fedlora coordinator admin API");
        assertThat(doc.path("info").path("version").asText()).as("the project's version, filtered in by the build")
                .matches("\\d+\\.\\d+\\.\\d+.*");
        assertThat(doc.path("info").path("description").asText()).contains("X-API-Key", "problem");
    }

    @Test
    void theApiKeySchemeIsDeclaredAndAppliedToEveryAdminOperation() {
        JsonNode scheme = doc.path("components").path("securitySchemes").path(OpenApiConfiguration.SECURITY_SCHEME);
        assertThat(scheme.path("type").asText()).isEqualTo("apiKey");
        assertThat(scheme.path("in").asText()).isEqualTo("header");
        assertThat(scheme.path("name").asText()).isEqualTo("X-API-Key");
        List<Map.Entry<String, JsonNode>> ops = adminOperations();
        assertThat(ops).hasSizeGreaterThanOrEqualTo(18);
        assertThat(ops).allSatisfy(op -> {
            assertThat(op.getKey()).contains("/api/v1/");
            assertThat(op.getValue().path("security").get(0).has(OpenApiConfiguration.SECURITY_SCHEME)).as(op.getKey()).isTrue();
            assertThat(op.getValue().path("summary").asText()).as(op.getKey() + " summary").isNotBlank();
            JsonNode unauthorized = op.getValue().path("responses").path("401");
            assertThat(unauthorized.path("content").has("application/problem+json")).as(op.getKey() + " 401").isTrue();
        });
    }

    @Test
    void realStatusCodesPerOperation() {
        JsonNode paths = doc.path("paths");
        for (String create : List.of("/api/v1/federations", "/api/v1/base-models", "/api/v1/federations/{id}/enrolment-tokens")) {
            JsonNode responses = paths.path(create).path("post").path("responses");
            assertThat(responses.has("201")).as(create).isTrue();
            assertThat(responses.has("200")).as(create + " answers 201, not 200").isFalse();
            assertThat(responses.path("400").path("content").path("application/problem+json").path("schema")
                    .path("$ref").asText()).as(create).isEqualTo("#/components/schemas/Problem");
        }
        assertThat(paths.path("/api/v1/enrolment-tokens/{tokenId}").path("delete").path("responses").has("204")).isTrue();
        JsonNode start = paths.path("/api/v1/federations/{id}/start").path("post").path("responses");
        assertThat(start.has("200")).isTrue();
        assertThat(start.path("404").path("content").has("application/problem+json")).isTrue();
        assertThat(start.path("409").path("content").has("application/problem+json")).isTrue();
        assertThat(paths.path("/api/v1/base-models").path("post").path("responses").has("409")).isTrue();
        assertThat(paths.path("/api/v1/audit").path("get").path("responses").has("400")).as("limit is validated").isTrue();
        assertThat(paths.path("/api/v1/federations/{id}/models/{version}/export").path("get").path("responses")
                .path("200").path("content").has("application/zip")).isTrue();
        JsonNode problem = doc.path("components").path("schemas").path("Problem").path("properties");
        assertThat(problem.has("title") && problem.has("status") && problem.has("detail") && problem.has("errors")).isTrue();
    }

    @Test
    void nullableFieldsAreMarkedAndOthersAreNot() {
        JsonNode schemas = doc.path("components").path("schemas");
        assertThat(schemas.path("Federation").path("properties").path("endedAt").path("nullable").asBoolean()).isTrue();
        assertThat(schemas.path("Federation").path("properties").path("statusReason").path("nullable").asBoolean()).isTrue();
        assertThat(schemas.path("Federation").path("properties").path("id").path("nullable").asBoolean()).isFalse();
        assertThat(schemas.path("ClientRecord").path("properties").path("lastHeartbeat").path("nullable").asBoolean()).isTrue();
        assertThat(schemas.path("VersionView").path("properties").path("roundId").path("nullable").asBoolean()).isTrue();
        assertThat(schemas.path("RoundView").path("properties").path("endedAt").path("nullable").asBoolean()).isTrue();
    }

    @Test
    void theServersConstraintsAreInTheSchemas() {
        JsonNode spec = doc.path("components").path("schemas").path("FederationSpec");
        assertThat(spec.path("required").toString()).contains("\"name\"");
        JsonNode p = spec.path("properties");
        assertThat(p.path("rank").path("minimum").asInt()).isEqualTo(1);
        assertThat(p.path("rank").path("maximum").asInt()).isEqualTo(1024);
        assertThat(p.path("name").path("maxLength").asInt()).isEqualTo(200);
        assertThat(p.path("strategy").path("pattern").asText()).isEqualTo("fedex|fedit|ffa");
        assertThat(p.path("alpha").path("exclusiveMinimum").asBoolean()).isTrue();
        assertThat(p.path("targetModules").path("items").path("pattern").asText()).isEqualTo("[A-Za-z0-9_.]+");
        assertThat(doc.path("components").path("schemas").path("TrainingSpec").path("properties").path("batchSize")
                .path("maximum").asInt()).isEqualTo(65536);
        assertThat(doc.path("components").path("schemas").path("TokenRequest").path("properties").path("count")
                .path("maximum").asInt()).isEqualTo(1000);
        JsonNode limit = null;
        for (JsonNode param : doc.path("paths").path("/api/v1/audit").path("get").path("parameters")) {
            if ("limit".equals(param.path("name").asText())) {
                limit = param;
            }
        }
        assertThat(limit).isNotNull();
        assertThat(limit.path("schema").path("minimum").asInt()).isEqualTo(1);
        assertThat(limit.path("schema").path("maximum").asInt()).isEqualTo(10000);
    }

    @Test
    void swaggerUiIsServedWithoutAKeyAndReadsThisDocument() throws Exception {
        HttpResponse<String> page = get("/swagger-ui/index.html");
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.body()).contains("swagger-ui");
        HttpResponse<String> config = get("/v3/api-docs/swagger-config");
        assertThat(config.statusCode()).isEqualTo(200);
        assertThat(config.body()).contains("/v3/api-docs");
        assertThat(get("/swagger-ui.html").statusCode()).isIn(200, 302);
    }
}
