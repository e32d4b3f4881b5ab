package io.fedlora.coordinator.admin;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.coordinator.clientapi.ClientTask;
import io.fedlora.coordinator.support.CoordinatorTestBase;
import io.fedlora.coordinator.support.SimulatedClient;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;

/** The admin REST API over real HTTP: auth, validation problems, the federation life cycle and export. */
class RestApiTest extends CoordinatorTestBase {

    @LocalServerPort int port;
    @Autowired ObjectMapper mapper;
    private final HttpClient http = HttpClient.newHttpClient();

    private HttpResponse<byte[]> call(String method, String path, String body, String key) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .header("Content-Type", "application/json");
        if (key != null) {
            b.header("X-API-Key", key);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    private JsonNode json(HttpResponse<byte[]> r) throws Exception {
        return mapper.readTree(r.body());
    }

    private String federationBody(String name, String extra) {
        return "{\"name\":\"" + name + "\",\"baseModelPath\":\"" + modelDir().toString().replace("\\", "\\\\")
                + "\",\"rank\":4,\"alpha\":8,\"rounds\":1,\"clientsPerRound\":{\"fraction\":1.0,\"minimum\":2},"
                + "\"minClients\":2,\"roundDeadlineSeconds\":30,\"evaluate\":false" + extra + "}";
    }

    @Test
    void requestsWithoutTheKeyAre401() throws Exception {
        HttpResponse<byte[]> none = call("GET", "/api/v1/federations", null, null);
        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(none.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).contains("problem+json"));
        assertThat(call("GET", "/api/v1/federations", null, "wrong").statusCode()).isEqualTo(401);
        assertThat(call("GET", "/api/v1/federations", null, API_KEY).statusCode()).isEqualTo(200);
        assertThat(call("GET", "/actuator/health", null, null).statusCode()).isEqualTo(200);
        assertThat(call("GET", "/actuator/prometheus", null, null).statusCode()).isEqualTo(200);
        assertThat(new String(call("GET", "/v3/api-docs", null, null).body())).contains("/api/v1/federations");
    }

    @Test
    void invalidSpecsAre400ProblemsNamingTheField() throws Exception {
        HttpResponse<byte[]> r = call("POST", "/api/v1/federations", federationBody(uniqueName("bad"), ",\"rank\":0"), API_KEY);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.headers().firstValue("Content-Type")).hasValueSatisfying(v -> assertThat(v).contains("problem+json"));
        assertThat(json(r).path("errors").get(0).path("field").asText()).isEqualTo("rank");

        r = call("POST", "/api/v1/federations", federationBody(uniqueName("bad"), ",\"maxExamplesPerUpdate\":0"), API_KEY);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(json(r).path("errors").get(0).path("field").asText()).isEqualTo("maxExamplesPerUpdate");

        r = call("POST", "/api/v1/federations", federationBody(uniqueName("bad"), ",\"strategy\":\"fedprox\""), API_KEY);
        assertThat(json(r).path("detail").asText()).contains("strategy");

        r = call("POST", "/api/v1/federations", federationBody(uniqueName("bad"), ",\"training\":{\"batchSize\":\"many\"}"), API_KEY);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(json(r).path("detail").asText()).contains("training.batchSize");

        r = call("POST", "/api/v1/federations", federationBody(uniqueName("bad"), ",\"targetModules\":[\"q_proj\"]"), API_KEY);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(json(r).path("errors").get(0).path("field").asText()).isEqualTo("targetModules");

        r = call("POST", "/api/v1/federations", federationBody(uniqueName("bad"), ",\"baseModelPath\":\"/nonexistent\""), API_KEY);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(json(r).path("errors").get(0).path("field").asText()).isEqualTo("baseModelPath");
    }

    @Test
    void modelsTheAgentsCannotComputeAre400ProblemsNamingTheConfigField(@org.junit.jupiter.api.io.TempDir Path tmp)
            throws Exception {
        Path gpt2 = io.fedlora.coordinator.support.TinyGpt2.write(tmp.resolve("inner"), false);
        String cfg = Files.readString(gpt2.resolve("config.json"));
        Files.writeString(gpt2.resolve("config.json"), cfg.substring(0, cfg.lastIndexOf('}')) + ",\"n_inner\":64}");
        String name = "inner-" + System.nanoTime();
        HttpResponse<byte[]> r = call("POST", "/api/v1/base-models", "{\"name\":\"" + name + "\",\"path\":\""
                + gpt2.toString().replace("\\", "\\\\") + "\"}", API_KEY);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(json(r).path("errors").get(0).path("field").asText()).isEqualTo("path");
        assertThat(json(r).path("detail").asText()).contains("config.json field 'n_inner'");
        assertThat(jdbc.sql("SELECT count(*) FROM base_models WHERE name = :n").param("n", name).query(Long.class).single())
                .isZero();

        Path yarn = io.fedlora.coordinator.support.TinyLlama.write(tmp.resolve("yarn"), io.fedlora.coordinator.support.TinyLlama
                .CONFIG.replace("\"rope_theta\":10000.0", "\"rope_theta\":10000.0,\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":4.0}"));
        String body = federationBody(uniqueName("yarn"), ",\"targetModules\":[\"q_proj\"]")
                .replace(modelDir().toString().replace("\\", "\\\\"), yarn.toString().replace("\\", "\\\\"));
        r = call("POST", "/api/v1/federations", body, API_KEY);
        assertThat(r.statusCode()).as(new String(r.body())).isEqualTo(400);
        assertThat(json(r).path("errors").get(0).path("field").asText()).isEqualTo("baseModelPath");
        assertThat(json(r).path("detail").asText()).contains("config.json field 'rope_scaling'");
    }

    @Test
    void aRegisteredBaseModelServesFederationsByName() throws Exception {
        String name = "tiny-" + System.nanoTime();
        String dir = modelDir().toString().replace("\\", "\\\\");
        HttpResponse<byte[]> registered = call("POST", "/api/v1/base-models",
                "{\"name\":\"" + name + "\",\"path\":\"" + dir + "\"}", API_KEY);
        assertThat(registered.statusCode()).as(new String(registered.body())).isEqualTo(201);
        JsonNode model = json(registered);
        assertThat(model.path("weightsBlob").asText()).matches("[0-9a-f]{64}");
        assertThat(model.path("files").has("config.json")).isTrue();
        assertThat(model.path("sizeBytes").asLong()).isPositive();

        assertThat(call("POST", "/api/v1/base-models", "{\"name\":\"" + name + "\",\"path\":\"" + dir + "\"}", API_KEY)
                .statusCode()).as("the name is taken").isEqualTo(409);
        HttpResponse<byte[]> badPath = call("POST", "/api/v1/base-models", "{\"name\":\"other-" + name
                + "\",\"path\":\"/nonexistent\"}", API_KEY);
        assertThat(badPath.statusCode()).isEqualTo(400);
        assertThat(json(badPath).path("errors").get(0).path("field").asText()).isEqualTo("path");
        assertThat(call("POST", "/api/v1/base-models", "{\"name\":\"bad name!\",\"path\":\"" + dir + "\"}", API_KEY)
                .statusCode()).isEqualTo(400);
        assertThat(json(call("GET", "/api/v1/base-models", null, API_KEY)).findValuesAsText("name")).contains(name);
        assertThat(call("GET", "/api/v1/base-models/no-such-model", null, API_KEY).statusCode()).isEqualTo(404);

        // a federation by name: same model, same layers, version 0 published, the weights stored once
        String byName = "{\"name\":\"" + uniqueName("registered") + "\",\"baseModel\":\"" + name + "\",\"rank\":4,"
                + "\"alpha\":8,\"rounds\":1,\"minClients\":2,\"evaluate\":false}";
        HttpResponse<byte[]> created = call("POST", "/api/v1/federations", byName, API_KEY);
        assertThat(created.statusCode()).as(new String(created.body())).isEqualTo(201);
        assertThat(json(created).path("spec").path("baseModel").asText()).isEqualTo(name);
        String id = json(created).path("id").asText();
        assertThat(jdbc.sql("SELECT base_blob_sha256 FROM federations WHERE id = :id::uuid").param("id", id)
                .query(String.class).single()).isEqualTo(model.path("weightsBlob").asText());
        assertThat(jdbc.sql("SELECT count(*) FROM federation_files WHERE federation_id = :id::uuid").param("id", id)
                .query(Long.class).single()).isEqualTo(model.path("files").size());
        assertThat(json(call("GET", "/api/v1/federations/" + id + "/models", null, API_KEY)).size()).isEqualTo(1);
        // and it runs: two clients train on it and version 1 is published
        assertThat(call("POST", "/api/v1/federations/" + id + "/start", null, API_KEY).statusCode()).isEqualTo(200);
        io.fedlora.coordinator.federation.Federation f = federations.get(id);
        for (io.fedlora.coordinator.support.SimulatedClient c : enrol(f, 10, 30)) {
            c.trainOnce(java.time.Duration.ofSeconds(10));
        }
        awaitStatus(id, io.fedlora.coordinator.federation.FederationStatus.COMPLETED, java.time.Duration.ofSeconds(20));
        assertThat(json(call("GET", "/api/v1/federations/" + id + "/models", null, API_KEY)).size()).isEqualTo(2);

        HttpResponse<byte[]> unknown = call("POST", "/api/v1/federations",
                byName.replace(name, "no-such-model").replace("registered-", "unknown-"), API_KEY);
        assertThat(unknown.statusCode()).isEqualTo(400);
        assertThat(json(unknown).path("errors").get(0).path("field").asText()).isEqualTo("baseModel");
        HttpResponse<byte[]> both = call("POST", "/api/v1/federations", federationBody(uniqueName("both"),
                ",\"baseModel\":\"" + name + "\""), API_KEY);
        assertThat(both.statusCode()).isEqualTo(400);
        assertThat(json(both).path("detail").asText()).contains("exactly one of baseModelPath");
    }

    @Test
    void lifecycleThroughRestAndExportOpensAsSafetensors() throws Exception {
        HttpResponse<byte[]> created = call("POST", "/api/v1/federations", federationBody(uniqueName("rest"), ""), API_KEY);
        assertThat(created.statusCode()).isEqualTo(201);
        String id = json(created).path("id").asText();
        assertThat(json(created).path("status").asText()).isEqualTo("CREATED");
        assertThat(json(created).path("spec").path("strategy").asText()).isEqualTo("fedex");
        assertThat(json(created).path("spec").path("maxExamplesPerUpdate").asLong()).isEqualTo(10_000_000L);
        assertThat(json(call("POST", "/api/v1/federations/" + id + "/start", null, API_KEY)).path("status").asText()).isEqualTo("RUNNING");
        assertThat(json(call("POST", "/api/v1/federations/" + id + "/pause", null, API_KEY)).path("status").asText()).isEqualTo("PAUSED");
        assertThat(call("POST", "/api/v1/federations/" + id + "/pause", null, API_KEY).statusCode()).isEqualTo(409);
        assertThat(json(call("POST", "/api/v1/federations/" + id + "/resume", null, API_KEY)).path("status").asText()).isEqualTo("RUNNING");

        JsonNode tokens = json(call("POST", "/api/v1/federations/" + id + "/enrolment-tokens", "{\"count\":3,\"ttlSeconds\":600}", API_KEY));
        assertThat(tokens.path("tokens")).hasSize(3);
        String revokedId = tokens.path("items").get(2).path("id").asText();
        assertThat(call("DELETE", "/api/v1/enrolment-tokens/" + revokedId, null, API_KEY).statusCode()).isEqualTo(204);
        List<SimulatedClient> clients = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            clients.add(new SimulatedClient(gateway, tokens.path("tokens").get(i).asText(), uniqueName("rest-client"), 5 + i, i));
        }
        for (SimulatedClient c : clients) {
            c.upload(c.prepare(c.awaitTask(ClientTask.Kind.TRAIN, Duration.ofSeconds(10))));
        }
        await("federation to complete", Duration.ofSeconds(20),
                () -> federations.get(id).status() == io.fedlora.coordinator.federation.FederationStatus.COMPLETED);

        JsonNode rounds = json(call("GET", "/api/v1/federations/" + id + "/rounds", null, API_KEY));
        assertThat(rounds).hasSize(1);
        assertThat(rounds.get(0).path("status").asText()).isEqualTo("PUBLISHED");
        assertThat(rounds.get(0).path("participants")).hasSize(2);
        assertThat(rounds.get(0).path("metrics").path("exactness_rel_error").asDouble()).isLessThan(1e-5);
        assertThat(rounds.get(0).path("metrics").path("per_layer").size()).isEqualTo(2);
        assertThat(json(call("GET", "/api/v1/federations/" + id + "/clients", null, API_KEY))).hasSize(2)
                .allSatisfy(c -> assertThat(c.path("lastHeartbeat").isNull()).isFalse());
        assertThat(json(call("GET", "/api/v1/federations/" + id + "/models", null, API_KEY))).hasSize(2);

        HttpResponse<byte[]> zip = call("GET", "/api/v1/federations/" + id + "/models/1/export", null, API_KEY);
        assertThat(zip.statusCode()).isEqualTo(200);
        Path dir = Files.createTempDirectory("export-test");
        List<String> names = new ArrayList<>();
        try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(zip.body()))) {
            for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
                names.add(e.getName());
                Path target = dir.resolve(e.getName()).normalize();
                assertThat(target.startsWith(dir)).as("entry %s stays inside the export", e.getName()).isTrue();
                if (e.isDirectory()) {
                    Files.createDirectories(target);
                } else {
                    Files.createDirectories(target.getParent());
                    Files.copy(in, target);
                }
            }
        }
        assertThat(names).contains("model.safetensors", "config.json", "adapter/adapter_config.json",
                "adapter/adapter_model.safetensors", "base/model.safetensors", "base/generation_config.json")
                .doesNotContain("adapter_config.json", "base/config.json");
        try (SafetensorsReader adapter = SafetensorsReader.open(dir.resolve("adapter/adapter_model.safetensors"));
             SafetensorsReader model = SafetensorsReader.open(dir.resolve("base/model.safetensors"))) {
            assertThat(adapter.tensors()).containsKey("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight");
            assertThat(adapter.readFloat("base_model.model.transformer.h.1.attn.c_attn.lora_B.weight").shape()).containsExactly(24, 4);
            assertThat(model.readFloat("h.0.attn.c_attn.weight").shape()).containsExactly(8, 24);
        }
        assertThat(call("GET", "/api/v1/federations/" + id + "/models/9/export", null, API_KEY).statusCode()).isEqualTo(404);

        String revoke = clients.get(0).id();
        assertThat(json(call("POST", "/api/v1/clients/" + revoke + "/revoke", null, API_KEY)).path("revokedAt").isNull()).isFalse();
        assertThat(call("POST", "/api/v1/federations/" + id + "/cancel", null, API_KEY).statusCode()).isEqualTo(409);
        assertThat(json(call("GET", "/api/v1/audit", null, API_KEY)).findValuesAsText("action"))
                .contains("federation.create", "federation.start", "enrolment-token.revoke", "model.export", "client.revoke");
    }

    @Test
    void cancelEndsAFederationAndTellsClientsDone() throws Exception {
        String id = json(call("POST", "/api/v1/federations", federationBody(uniqueName("cancel"), ""), API_KEY)).path("id").asText();
        call("POST", "/api/v1/federations/" + id + "/start", null, API_KEY);
        String token = json(call("POST", "/api/v1/federations/" + id + "/enrolment-tokens", "{\"count\":1}", API_KEY))
                .path("tokens").get(0).asText();
        SimulatedClient c = new SimulatedClient(gateway, token, uniqueName("c"), 3, 1);
        assertThat(json(call("POST", "/api/v1/federations/" + id + "/cancel", null, API_KEY)).path("status").asText()).isEqualTo("CANCELLED");
        ClientTask done = c.awaitTask(ClientTask.Kind.DONE, Duration.ofSeconds(5));
        assertThat(done.reason()).startsWith("cancelled");
    }
}
