package io.fedlora.it.compose;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * Checks docker-compose.yml, .env.example and docker/Dockerfile against each other, since no Docker engine is
 * available to the build to try them: the services exist and are wired to each other, nothing is published beyond
 * loopback by default, every variable the compose file reads is documented, each agent keeps its data in its own
 * volume, and every build target exists in the Dockerfile.
 */
class ComposeFileTest {

    /** {@code ${NAME}}, {@code ${NAME:-default}}, {@code ${NAME:?message}}, ... or bare {@code $NAME}; {@code $$} is a literal dollar. */
    private static final Pattern VARIABLE = Pattern.compile("\\$(?:\\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)}|([A-Za-z_][A-Za-z0-9_]*))");
    private static final Pattern FROM_AS = Pattern.compile("(?im)^FROM\\s+\\S+\\s+AS\\s+(\\S+)\\s*$");
    private static final List<String> AGENTS = List.of("agent-1", "agent-2", "agent-3", "agent-gpu");

    private static Path root;
    private static String composeText;
    private static Map<String, Object> compose;
    private static Map<String, String> envExample;

    @BeforeAll
    static void load() throws IOException {
        root = repositoryRoot();
        composeText = Files.readString(root.resolve("docker-compose.yml"));
        compose = new Yaml(new SafeConstructor(new LoaderOptions())).load(composeText);
        envExample = readEnvFile(root.resolve(".env.example"));
    }

    @Test
    void definesTheWholeDeployment() {
        assertThat(services().keySet())
                .contains("postgres", "init", "coordinator", "agent-1", "agent-2", "agent-3", "agent-gpu");
        assertThat(service("postgres").get("image")).asString().startsWith("postgres:17");
    }

    @Test
    void publishesPortsOnlyOnLoopbackByDefault() {
        Map<String, List<String>> published = new LinkedHashMap<>();
        services().forEach((name, definition) -> {
            for (Object port : list(map(definition).get("ports"))) {
                published.computeIfAbsent(name, n -> new ArrayList<>()).add(hostIp(port));
            }
        });
        assertThat(published).containsOnlyKeys("coordinator");
        assertThat(published.get("coordinator")).hasSize(2).containsOnly("127.0.0.1");
        assertThat(list(service("coordinator").get("ports")).get(0).toString())
                .as("REST and /actuator/prometheus are never published beyond loopback")
                .startsWith("127.0.0.1:").endsWith(":8080");
    }

    @Test
    void postgresAndCoordinatorHaveHealthchecksThatTheirDependentsWaitFor() {
        assertThat(String.join(" ", strings(map(service("postgres").get("healthcheck")).get("test"))))
                .contains("pg_isready");
        assertThat(strings(map(service("coordinator").get("healthcheck")).get("test")))
                .anyMatch(part -> part.endsWith(":8080/actuator/health"));
        assertThat(dependsOn("coordinator")).containsEntry("postgres", "service_healthy")
                .containsEntry("init", "service_completed_successfully");
        for (String agent : AGENTS) {
            assertThat(dependsOn(agent)).as(agent).containsEntry("coordinator", "service_healthy");
        }
    }

    @Test
    void coordinatorIsWiredToPostgresAndItsDataVolume() {
        Map<String, String> env = environment("coordinator");
        assertThat(resolve(env.get("SPRING_DATASOURCE_URL"))).isEqualTo("jdbc:postgresql://postgres:5432/" + envExample.get("POSTGRES_DB"));
        assertThat(resolve(env.get("SPRING_DATASOURCE_USERNAME"))).isEqualTo(envExample.get("POSTGRES_USER"));
        assertThat(resolve(env.get("SPRING_DATASOURCE_PASSWORD"))).isEqualTo(envExample.get("POSTGRES_PASSWORD"));
        assertThat(env.get("FEDLORA_ADMIN_API_KEY")).contains("${FEDLORA_ADMIN_API_KEY");
        assertThat(env).containsEntry("FEDLORA_DATA_DIR", "/data").containsEntry("SPRING_GRPC_SERVER_PORT", "9090");
        // the coordinator binds loopback by default; in its container it listens on the container's interface
        assertThat(env).containsEntry("FEDLORA_BIND_ADDRESS", "0.0.0.0");
        assertThat(strings(service("coordinator").get("volumes"))).contains("coordinator-data:/data");
    }

    @Test
    void agentsTalkToTheCoordinatorWithTheirOwnTokens() {
        Map<String, String> tokens = Map.of("agent-1", "FEDLORA_ENROL_TOKEN_1", "agent-2", "FEDLORA_ENROL_TOKEN_2",
                "agent-3", "FEDLORA_ENROL_TOKEN_3", "agent-gpu", "FEDLORA_ENROL_TOKEN_GPU");
        for (String agent : AGENTS) {
            Map<String, String> env = environment(agent);
            assertThat(env).as(agent).containsEntry("FEDLORA_AGENT_COORDINATOR", "coordinator:9090")
                    .containsEntry("FEDLORA_AGENT_NAME", agent);
            assertThat(env.get("FEDLORA_AGENT_TOKEN")).as(agent).startsWith("${" + tokens.get(agent));
            assertThat(env.get("FEDLORA_AGENT_DATA_DIR")).as(agent).isNotBlank();
            assertThat(env.get("FEDLORA_AGENT_WORK_DIR")).as(agent).isNotBlank();
        }
    }

    @Test
    void agentsThatFinishOrAreRefusedStayDown() {
        // the agent exits 0 when its federation ends and 3 when refused: only failures may restart it
        for (String agent : AGENTS) {
            assertThat(String.valueOf(service(agent).get("restart"))).as(agent).startsWith("on-failure");
        }
        assertThat(service("init").get("restart")).isEqualTo("no");
    }

    @Test
    void buildContextExcludesWorkDirsBuildOutputAndSecrets() throws IOException {
        List<String> ignored = Files.readAllLines(root.resolve(".dockerignore")).stream().map(String::strip)
                .filter(line -> !line.isEmpty() && !line.startsWith("#")).toList();
        assertThat(ignored).contains(".git", "**/target", ".fedlora", "**/.fedlora", ".env");
        assertThat(root.resolve("docker/Dockerfile.dockerignore"))
                .as("BuildKit would prefer it over .dockerignore; one list only").doesNotExist();
        assertThat(Files.readString(root.resolve("docker/Dockerfile"))).as("the build stage needs no prebuilt target/")
                .doesNotContainPattern("COPY\\s+\\S*target");
    }

    @Test
    void eachAgentHasItsOwnVolume() {
        Set<String> declared = map(compose.get("volumes")).keySet();
        Map<String, Set<String>> volumesByAgent = new LinkedHashMap<>();
        for (String agent : AGENTS) {
            Set<String> named = namedVolumes(agent);
            assertThat(named).as(agent + " mounts a named volume").isNotEmpty();
            assertThat(declared).as("top-level volumes").containsAll(named);
            volumesByAgent.put(agent, named);
        }
        Set<String> seen = new HashSet<>();
        volumesByAgent.forEach((agent, named) -> {
            for (String volume : named) {
                assertThat(seen.add(volume)).as(agent + "'s volume " + volume + " is shared with another agent").isTrue();
            }
        });
        Set<String> coordinatorVolumes = namedVolumes("coordinator");
        assertThat(seen).as("agents never mount the coordinator's volumes").doesNotContainAnyElementsOf(coordinatorVolumes);
        assertThat(namedVolumes("postgres")).doesNotContainAnyElementsOf(seen);
    }

    @Test
    void gpuAgentReservesAnNvidiaGpuUnderTheGpuProfile() {
        Map<String, Object> gpu = service("agent-gpu");
        assertThat(strings(gpu.get("profiles"))).containsExactly("gpu");
        List<Object> devices = list(map(map(map(gpu.get("deploy")).get("resources")).get("reservations")).get("devices"));
        assertThat(devices).hasSize(1);
        Map<String, Object> device = map(devices.get(0));
        assertThat(device).containsEntry("driver", "nvidia").containsEntry("count", 1);
        assertThat(strings(device.get("capabilities"))).contains("gpu");
        assertThat(map(gpu.get("build")).get("target")).isEqualTo("agent-cuda");
        for (String agent : List.of("agent-1", "agent-2", "agent-3")) {
            assertThat(service(agent)).as(agent + " runs without the gpu profile").doesNotContainKey("profiles");
        }
    }

    @Test
    void everyVariableUsedIsDocumentedInEnvExampleAndEveryDocumentedOneIsUsed() {
        Set<String> used = usedVariables();
        assertThat(used).isNotEmpty();
        assertThat(envExample.keySet()).as("variables in .env.example").containsAll(used);
        assertThat(used).as("variables of .env.example that docker-compose.yml never reads").containsAll(envExample.keySet());
    }

    @Test
    void requiredSecretsFailLoudlyWhenUnset() {
        for (String secret : List.of("POSTGRES_PASSWORD", "FEDLORA_ADMIN_API_KEY")) {
            Matcher matcher = VARIABLE.matcher(withoutComments());
            boolean sawUse = false;
            while (matcher.find()) {
                if (secret.equals(matcher.group(1))) {
                    sawUse = true;
                    assertThat(matcher.group(2)).as(secret + " has no default").startsWith(":?");
                }
            }
            assertThat(sawUse).as(secret + " is used").isTrue();
        }
    }

    @Test
    void everyBuildTargetExistsInItsDockerfile() throws IOException {
        Map<String, Set<String>> targetsByDockerfile = new HashMap<>();
        services().forEach((name, definition) -> {
            Object build = map(definition).get("build");
            if (build == null) {
                return;
            }
            Map<String, Object> spec = map(build);
            Path context = root.resolve(String.valueOf(spec.getOrDefault("context", ".")));
            Path dockerfile = context.resolve(String.valueOf(spec.getOrDefault("dockerfile", "Dockerfile"))).normalize();
            assertThat(dockerfile).as(name + "'s Dockerfile").isRegularFile();
            Set<String> targets = targetsByDockerfile.computeIfAbsent(dockerfile.toString(), f -> stageNames(Path.of(f)));
            assertThat(targets).as(name + "'s build target").contains(String.valueOf(spec.get("target")));
        });
        assertThat(targetsByDockerfile).isNotEmpty();
        String dockerfile = Files.readString(root.resolve("docker/Dockerfile"));
        assertThat(dockerfile).contains("FROM maven:3.9-eclipse-temurin-17 AS build")
                .contains("FROM eclipse-temurin:17-jre")
                .contains("FROM nvidia/cuda:11.6.2-cudnn8-runtime-ubuntu20.04 AS agent-cuda")
                .contains("-Pcuda")
                .contains("io.fedlora.coordinator.CoordinatorApplication")
                .contains("io.fedlora.agent.AgentApplication");
    }

    // ---------------------------------------------------------------------------------------------- helpers

    private static Path repositoryRoot() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve("docker-compose.yml")) && Files.isRegularFile(dir.resolve("pom.xml"))) {
                return dir;
            }
        }
        throw new IllegalStateException("no docker-compose.yml above " + Path.of("").toAbsolutePath());
    }

    private static Map<String, String> readEnvFile(Path file) throws IOException {
        Map<String, String> values = new LinkedHashMap<>();
        for (String line : Files.readAllLines(file)) {
            String trimmed = line.strip();
            if (trimmed.isEmpty() || trimmed.startsWith("#")) {
                continue;
            }
            int eq = trimmed.indexOf('=');
            assertThat(eq).as(".env.example line '" + line + "' is NAME=value").isPositive();
            values.put(trimmed.substring(0, eq).strip(), trimmed.substring(eq + 1).strip());
        }
        return values;
    }

    private static String withoutComments() {
        return composeText.lines().filter(line -> !line.stripLeading().startsWith("#")).collect(Collectors.joining("\n"));
    }

    private static Set<String> usedVariables() {
        String text = withoutComments().replace("$$", "");
        Set<String> used = new HashSet<>();
        Matcher matcher = VARIABLE.matcher(text);
        while (matcher.find()) {
            used.add(matcher.group(1) != null ? matcher.group(1) : matcher.group(3));
        }
        return used;
    }

    /** Interpolates like compose, taking values from .env.example, then the inline default. */
    private static String resolve(String value) {
        Matcher matcher = VARIABLE.matcher(value);
        StringBuilder out = new StringBuilder();
        while (matcher.find()) {
            String name = matcher.group(1) != null ? matcher.group(1) : matcher.group(3);
            String modifier = matcher.group(2) == null ? "" : matcher.group(2);
            String replacement = envExample.get(name);
            if ((replacement == null || replacement.isEmpty()) && modifier.startsWith(":-")) {
                replacement = modifier.substring(2);
            }
            matcher.appendReplacement(out, Matcher.quoteReplacement(replacement == null ? "" : replacement));
        }
        matcher.appendTail(out);
        return out.toString();
    }

    /** The host address a port entry binds (short "ip:host:container" or long syntax), "0.0.0.0" when none. */
    private static String hostIp(Object port) {
        if (port instanceof Map<?, ?> longSyntax) {
            Object ip = longSyntax.get("host_ip");
            return ip == null ? "0.0.0.0" : resolve(ip.toString());
        }
        String[] parts = resolve(port.toString()).split(":");
        return parts.length == 3 ? parts[0] : "0.0.0.0";
    }

    private static Set<String> namedVolumes(String service) {
        Set<String> named = new HashSet<>();
        for (Object volume : list(service(service).get("volumes"))) {
            String source = volume instanceof Map<?, ?> longSyntax ? String.valueOf(longSyntax.get("source"))
                    : volume.toString().split(":")[0];
            if (!source.startsWith(".") && !source.startsWith("/") && !source.startsWith("~")) {
                named.add(source);
            }
        }
        return named;
    }

    private static Map<String, String> dependsOn(String service) {
        Map<String, String> conditions = new LinkedHashMap<>();
        Object dependsOn = service(service).get("depends_on");
        if (dependsOn instanceof Map<?, ?> longSyntax) {
            longSyntax.forEach((name, spec) -> conditions.put(name.toString(), String.valueOf(map(spec).get("condition"))));
        } else {
            list(dependsOn).forEach(name -> conditions.put(name.toString(), "service_started"));
        }
        return conditions;
    }

    private static Map<String, String> environment(String service) {
        Object env = service(service).get("environment");
        Map<String, String> values = new LinkedHashMap<>();
        if (env instanceof Map<?, ?> mapping) {
            mapping.forEach((k, v) -> values.put(k.toString(), v == null ? "" : v.toString()));
        } else {
            for (Object entry : list(env)) {
                String[] kv = entry.toString().split("=", 2);
                values.put(kv[0], kv.length > 1 ? kv[1] : "");
            }
        }
        return values;
    }

    private static Set<String> stageNames(Path dockerfile) {
        try {
            Set<String> names = new HashSet<>();
            Matcher matcher = FROM_AS.matcher(Files.readString(dockerfile));
            while (matcher.find()) {
                names.add(matcher.group(1));
            }
            return names;
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + dockerfile, e);
        }
    }

    private static Map<String, Object> services() {
        return map(compose.get("services"));
    }

    private static Map<String, Object> service(String name) {
        Object definition = services().get(name);
        assertThat(definition).as("service " + name).isNotNull();
        return map(definition);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object value) {
        assertThat(value).isInstanceOf(Map.class);
        return (Map<String, Object>) value;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object value) {
        return value == null ? List.of() : (List<Object>) value;
    }

    private static List<String> strings(Object value) {
        if (value instanceof String single) {
            return List.of(single);
        }
        return list(value).stream().map(String::valueOf).toList();
    }
}
