package io.fedlora.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;

import com.fasterxml.jackson.databind.JsonNode;

import io.fedlora.demo.admin.AdminClient;
import io.fedlora.it.support.EnvironmentExtension;
import io.fedlora.it.support.FederationEnvironment;

/**
 * The model-directory and error-body holes an outside probe found, replayed over HTTP against a coordinator process:
 * a base-model directory whose {@code merges.txt} linked to a server file had that file copied into the blob store
 * (and shipped to every client), a NUL in a path was a 500, {@code ?limit=0} was a 500, and errors were not all
 * RFC 9457 problems. Now each is a 4xx problem body that quotes no file and does not tell which server paths exist.
 */
@Tag("e2e")
@ExtendWith(EnvironmentExtension.class)
class ModelPathsAndProblemsEndToEndTest {

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void symlinksInAModelDirectoryAreRefusedWithoutReadingOrStoringTheTarget(FederationEnvironment env) throws Exception {
        FederationEnvironment.Coordinator coordinator = env.sharedCoordinator();
        AdminClient admin = env.admin(coordinator);
        String secret = "fedlora-e2e-secret-" + UUID.randomUUID();
        Path outside = env.newDir("model-paths-outside").resolve("server-file.txt");
        Files.writeString(outside, "{\"root\": \"" + secret + "\"}\n");

        Path model = env.modelDir();
        for (String linked : List.of("merges.txt", "tokenizer.json", "vocab.json")) {
            Path dir = copyOf(model, env.newDir("model-with-linked-" + linked));
            Files.deleteIfExists(dir.resolve(linked));
            Files.createSymbolicLink(dir.resolve(linked), outside);
            String name = "linked-" + linked.replace('.', '-') + "-" + UUID.randomUUID().toString().substring(0, 8);

            JsonNode registration = problem(admin.exchange("POST", "base-models", Map.of("name", name, "path", dir.toString()),
                    true), 400, secret);
            assertThat(registration.path("detail").asText()).contains(linked, "symbolic link");
            assertThat(coordinator.database().count("SELECT count(*) FROM base_models WHERE name = ?", name)).isZero();

            JsonNode federation = problem(admin.exchange("POST", "federations", federationBody(name, dir.toString()), true), 400, secret);
            assertThat(federation.path("detail").asText()).contains("baseModelPath", linked, "symbolic link");
            assertThat(coordinator.database().count("SELECT count(*) FROM federations WHERE name = ?", name)).isZero();
        }

        // a linked config.json, or the directory itself a link to a real model: not a model directory
        Path linkedConfig = copyOf(model, env.newDir("model-with-linked-config"));
        Files.delete(linkedConfig.resolve("config.json"));
        Files.createSymbolicLink(linkedConfig.resolve("config.json"), model.resolve("config.json"));
        Path linkedDir = env.work().resolve("model-dir-link");
        Files.createSymbolicLink(linkedDir, model);
        String notAModel = problem(admin.exchange("POST", "base-models",
                Map.of("name", "linked-config", "path", linkedConfig.toString()), true), 400, secret).path("detail").asText();
        assertThat(notAModel).contains("not a model directory");
        assertThat(problem(admin.exchange("POST", "base-models", Map.of("name", "linked-dir", "path", linkedDir.toString()),
                true), 400, secret).path("detail").asText()).isEqualTo(notAModel);

        assertThat(filesContaining(coordinator.process().settings().dataDir(), secret))
                .as("files of the coordinator's data dir (blob store, database) holding the linked file's contents")
                .isEmpty();

        // the same directory without the link registers: the refusals above were the link's
        Path clean = copyOf(model, env.newDir("model-clean"));
        String cleanName = "clean-" + UUID.randomUUID().toString().substring(0, 8);
        HttpResponse<String> ok = admin.exchange("POST", "base-models", Map.of("name", cleanName, "path", clean.toString()), true);
        assertThat(ok.statusCode()).as(ok.body()).isEqualTo(201);
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void pathsThatAreNotModelDirectoriesGetOneAnswerWhetherOrNotTheyExist(FederationEnvironment env) throws Exception {
        FederationEnvironment.Coordinator coordinator = env.sharedCoordinator();
        AdminClient admin = env.admin(coordinator);
        String secret = "fedlora-e2e-secret-" + UUID.randomUUID();
        Path existingFile = env.newDir("model-paths-probe").resolve("server-file.txt");
        Files.writeString(existingFile, secret);
        Path emptyDir = env.newDir("model-paths-probe/empty");

        Map<String, String> answers = new LinkedHashMap<>();
        for (String probe : List.of("/etc", "/etc/passwd", "/root/.ssh", "/proc/self", existingFile.toString(),
                emptyDir.toString(), "/no/such/dir-" + UUID.randomUUID(), "relative/does-not-exist",
                "/" + "x".repeat(5000))) {
            JsonNode reg = problem(admin.exchange("POST", "base-models", Map.of("name", "probe", "path", probe), true), 400,
                    secret);
            answers.put(probe, reg.path("detail").asText());
            JsonNode fed = problem(admin.exchange("POST", "federations", federationBody("probe", probe), true), 400, secret);
            assertThat(fed.path("detail").asText()).as(probe).isEqualTo(reg.path("detail").asText().replaceFirst("^path",
                    "baseModelPath"));
        }
        assertThat(answers.values().stream().distinct().toList()).as("answers by probed path: " + answers).hasSize(1);
        assertThat(answers.values().iterator().next()).contains("not a model directory").doesNotContain("/etc", "/root");

        // a NUL (the one byte no file system path may hold) is a 400 problem, not a 500
        for (String nul : List.of("/tmp/model\u0000", "\u0000", existingFile + "\u0000/../../etc")) {
            JsonNode reg = problem(admin.exchange("POST", "base-models", Map.of("name", "nul", "path", nul), true), 400, secret);
            assertThat(reg.path("detail").asText()).contains("path").doesNotContain("\u0000");
            JsonNode fed = problem(admin.exchange("POST", "federations", federationBody("nul", nul), true), 400, secret);
            assertThat(fed.path("detail").asText()).contains("baseModelPath").doesNotContain("\u0000");
        }
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void queryValidationAndUnsupportedMethodsAreProblemBodies(FederationEnvironment env) throws Exception {
        FederationEnvironment.Coordinator coordinator = env.sharedCoordinator();
        AdminClient admin = env.admin(coordinator);
        for (String limit : List.of("0", "-1", "10001", "many")) {
            JsonNode p = problem(admin.exchange("GET", "audit?limit=" + limit, null, true), 400,
                    coordinator.process().apiKey());
            assertThat(p.path("detail").asText()).as(limit).contains("limit");
        }
        assertThat(admin.exchange("GET", "audit?limit=1", null, true).statusCode()).isEqualTo(200);

        HttpResponse<String> delete = admin.exchange("DELETE", "audit", null, true);
        String key = coordinator.process().apiKey();
        problem(delete, 405, key);
        assertThat(delete.headers().firstValue("Allow")).hasValueSatisfying(allow -> assertThat(allow).contains("GET"));
        problem(admin.exchange("PUT", "federations", Map.of("name", "x"), true), 405, "\"x\"");
        problem(admin.exchange("PATCH", "base-models", Map.of("name", "x"), true), 405, "\"x\"");
    }

    /**
     * The answer is an RFC 9457 problem with {@code status}, {@code application/problem+json} and the required members,
     * and quotes nothing of {@code mustNotContain} (a secret file's contents, or the request's own input).
     */
    private JsonNode problem(HttpResponse<String> r, int status, String mustNotContain) throws IOException {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
        assertThat(r.headers().firstValue("Content-Type")).as(r.body())
                .hasValueSatisfying(type -> assertThat(type).startsWith("application/problem+json"));
        assertThat(r.body()).doesNotContain(mustNotContain);
        JsonNode p = MAPPER.readTree(r.body());
        assertThat(p.path("status").asInt()).isEqualTo(status);
        assertThat(p.path("title").asText()).isNotBlank();
        assertThat(p.has("type")).isTrue();
        assertThat(p.path("detail").asText()).isNotBlank();
        return p;
    }

    private static final com.fasterxml.jackson.databind.ObjectMapper MAPPER = new com.fasterxml.jackson.databind.ObjectMapper();

    private static com.fasterxml.jackson.databind.node.ObjectNode federationBody(String name, String baseModelPath) {
        return MAPPER.createObjectNode().put("name", name).put("baseModelPath", baseModelPath).put("rounds", 1)
                .put("minClients", 1);
    }

    /** A copy of the model directory's regular files (the generated model is shared by every test). */
    private static Path copyOf(Path model, Path target) throws IOException {
        try (Stream<Path> files = Files.list(model)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.copy(f, target.resolve(f.getFileName()));
            }
        }
        return target;
    }

    /** Regular files under {@code root} whose bytes contain {@code text}. */
    private static List<Path> filesContaining(Path root, String text) throws IOException {
        byte[] needle = text.getBytes(StandardCharsets.UTF_8);
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(Files::isRegularFile).filter(f -> contains(f, needle)).toList();
        }
    }

    private static boolean contains(Path file, byte[] needle) {
        try {
            byte[] bytes = Files.readAllBytes(file);
            outer:
            for (int i = 0; i + needle.length <= bytes.length; i++) {
                for (int j = 0; j < needle.length; j++) {
                    if (bytes[i + j] != needle[j]) {
                        continue outer;
                    }
                }
                return true;
            }
            return false;
        } catch (IOException unreadable) {
            return false; // a file the server is writing or removing right now (a WAL segment being recycled)
        }
    }
}
