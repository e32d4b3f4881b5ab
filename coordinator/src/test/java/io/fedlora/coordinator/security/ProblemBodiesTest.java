package io.fedlora.coordinator.security;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fedlora.coordinator.support.CoordinatorTestBase;
import io.fedlora.coordinator.support.RawHttp;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.web.server.LocalServerPort;

/**
 * Every 4xx of the admin API, whoever raises it (Spring MVC, Jackson, bean validation, the firewall, Tomcat), is an
 * RFC 9457 problem body ({@code application/problem+json} with type, title, status and detail) that says what was
 * wrong without echoing the request.
 */
class ProblemBodiesTest extends CoordinatorTestBase {

    private static final ObjectMapper JSON = new ObjectMapper();

    @LocalServerPort int port;

    private RawHttp.Response call(String method, String target, Map<String, String> headers, String body) throws Exception {
        Map<String, String> h = new java.util.LinkedHashMap<>(Map.of("X-API-Key", API_KEY));
        h.putAll(headers);
        return RawHttp.send(port, method, target, h, body);
    }

    private static JsonNode problem(RawHttp.Response r, int status) throws Exception {
        assertThat(r.status()).as(r.body()).isEqualTo(status);
        assertThat(r.header("Content-Type")).as(r.body()).startsWith("application/problem+json");
        JsonNode p = JSON.readTree(r.body());
        assertThat(p.path("status").asInt()).isEqualTo(status);
        assertThat(p.path("title").asText()).isNotBlank();
        assertThat(p.has("type")).isTrue();
        return p;
    }

    private String federation(String extra) {
        return "{\"name\":\"" + uniqueName("problems") + "\",\"baseModelPath\":\"" + modelDir().toString().replace("\\", "\\\\")
                + "\",\"rounds\":1,\"minClients\":1" + extra + "}";
    }

    private static final Map<String, String> JSON_BODY = Map.of("Content-Type", "application/json");

    @Test
    void queryParameterValidationNamesTheParameter() throws Exception {
        for (String bad : new String[] {"0", "10001", "-5"}) {
            JsonNode p = problem(call("GET", "/api/v1/audit?limit=" + bad, Map.of(), null), 400);
            assertThat(p.path("detail").asText()).as(bad).contains("limit");
            assertThat(p.path("errors").get(0).path("field").asText()).isEqualTo("limit");
        }
        JsonNode mismatch = problem(call("GET", "/api/v1/audit?limit=many-s3cr3t", Map.of(), null), 400);
        assertThat(mismatch.path("detail").asText()).contains("limit", "integer").doesNotContain("s3cr3t");
        assertThat(mismatch.path("errors").get(0).path("field").asText()).isEqualTo("limit");
        JsonNode pathMismatch = problem(call("GET", "/api/v1/federations/00000000-0000-4000-8000-00000000ffff/models/latest-s3cr3t/export",
                Map.of(), null), 400);
        assertThat(pathMismatch.path("detail").asText()).contains("version", "integer").doesNotContain("s3cr3t");
        assertThat(call("GET", "/api/v1/audit?limit=1", Map.of(), null).status()).isEqualTo(200);
    }

    @Test
    void wrongMethodMediaTypeAndAcceptAreProblems() throws Exception {
        RawHttp.Response wrongMethod = call("DELETE", "/api/v1/audit", Map.of(), null);
        problem(wrongMethod, 405);
        assertThat(wrongMethod.header("Allow")).contains("GET");
        problem(call("POST", "/api/v1/federations", Map.of("Content-Type", "text/plain"), "name=x"), 415);
        problem(call("GET", "/api/v1/federations", Map.of("Accept", "application/xml"), null), 406);
    }

    @Test
    void unknownRoutesAre404ProblemsWithTheKeyAnd401WithoutIt() throws Exception {
        JsonNode p = problem(call("GET", "/api/v1/no-such-thing", Map.of(), null), 404);
        assertThat(p.path("detail").asText()).doesNotContain("no-such-thing");
        problem(call("GET", "/api/v1/federations/00000000-0000-4000-8000-00000000ffff", Map.of(), null), 404);
        problem(RawHttp.send(port, "GET", "/api/v1/no-such-thing", Map.of(), null), 401);
    }

    @Test
    void malformedJsonIsA400() throws Exception {
        problem(call("POST", "/api/v1/federations", JSON_BODY, "{\"name\":"), 400);
        problem(call("POST", "/api/v1/federations", JSON_BODY, "not json at all"), 400);
        problem(call("POST", "/api/v1/federations", JSON_BODY, federation("") + " {\"trailing\":1}"), 400);
        JsonNode wrongType = problem(call("POST", "/api/v1/federations", JSON_BODY, federation(",\"rank\":\"eight\"")), 400);
        assertThat(wrongType.path("detail").asText()).contains("rank", "integer").doesNotContain("eight");
    }

    @Test
    void unknownJsonFieldsAreRefusedByName() throws Exception {
        JsonNode top = problem(call("POST", "/api/v1/federations", JSON_BODY, federation(",\"round\":1")), 400);
        assertThat(top.path("detail").asText()).contains("round", "unknown field");
        assertThat(top.path("errors").get(0).path("field").asText()).isEqualTo("round");
        JsonNode nested = problem(call("POST", "/api/v1/federations", JSON_BODY, federation(",\"training\":{\"lr\":0.1}")), 400);
        assertThat(nested.path("errors").get(0).path("field").asText()).isEqualTo("training.lr");
        problem(call("POST", "/api/v1/base-models", JSON_BODY, "{\"name\":\"x\",\"path\":\"/tmp\",\"sha\":\"1\"}"), 400);
        // the same body without the stray field is accepted
        assertThat(call("POST", "/api/v1/federations", JSON_BODY, federation("")).status()).isEqualTo(201);
    }

    @Test
    void invalidFileSystemPathsInBodiesAre400() throws Exception {
        JsonNode fed = problem(call("POST", "/api/v1/federations", JSON_BODY,
                "{\"name\":\"" + uniqueName("nul") + "\",\"baseModelPath\":\"/tmp/a\\u0000b\"}"), 400);
        assertThat(fed.path("detail").asText()).contains("baseModelPath").doesNotContain("\u0000");
        JsonNode reg = problem(call("POST", "/api/v1/base-models", JSON_BODY, "{\"name\":\"nul\",\"path\":\"/tmp/\\u0000\"}"), 400);
        assertThat(reg.path("detail").asText()).contains("path");
    }

    @Test
    void requestsTomcatRefusesAreProblemsToo() throws Exception {
        // an undecodable escape and an encoded slash are refused by Tomcat before Spring sees the request
        for (String target : new String[] {"/api/v1/audit%zz", "/api/v1%2Faudit", "/api/v1/audit%"}) {
            JsonNode p = problem(RawHttp.send(port, "GET", target, Map.of("X-API-Key", API_KEY), null), 400);
            assertThat(p.path("detail").asText()).doesNotContain("audit");
        }
    }
}
