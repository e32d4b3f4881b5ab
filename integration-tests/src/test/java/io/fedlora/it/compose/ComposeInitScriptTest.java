package io.fedlora.it.compose;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * Runs the compose {@code init} service's script itself, since no Docker engine is available to the build: its
 * entrypoint and command as compose would pass them (variables interpolated, {@code $$} unescaped), with each
 * container path it uses mapped to a temp dir, the image's real {@code docker/fedlora-cli} wrapper running the real
 * init-model on this JVM's classpath, and {@code chown} recorded instead of run (the test may not be root). Then every
 * agent service must find, under the data dir it is configured with, in the volume init wrote, its own client's
 * datasets, and the coordinator its base model: a script that copies a client directory init-model never writes (the
 * {@code client-0} off-by-one) fails here.
 */
class ComposeInitScriptTest {

    private static final Pattern VARIABLE = Pattern.compile("\\$\\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?}");
    private static final List<String> AGENTS = List.of("agent-1", "agent-2", "agent-3", "agent-gpu");

    private static Path root;
    private static Map<String, Object> services;

    @TempDir
    Path temp;

    @BeforeAll
    @SuppressWarnings("unchecked")
    static void load() throws IOException {
        root = repositoryRoot();
        Map<String, Object> compose = new Yaml(new SafeConstructor(new LoaderOptions()))
                .load(Files.readString(root.resolve("docker-compose.yml")));
        services = (Map<String, Object>) compose.get("services");
    }

    @Test
    void initScriptGivesEveryAgentItsOwnDatasetAndTheCoordinatorTheBaseModel() throws Exception {
        Map<String, Object> init = service("init");
        List<String> entrypoint = strings(init.get("entrypoint"));
        List<String> command = strings(init.get("command"));
        assertThat(entrypoint).as("init entrypoint").containsExactly("/bin/sh", "-ec");
        assertThat(command).hasSize(1);
        String script = compose(command.get(0));
        assertThat(script).as("init-model pins the thread count the launcher pins").contains("init-model")
                .containsPattern("--threads[ =]1\\b");

        // the container's file system under temp/root: /tmp (init-model's scratch output) and init's mount points
        Path container = temp.resolve("root");
        Map<String, Path> hostPathOfVolume = new LinkedHashMap<>();
        Map<String, String> containerPaths = new LinkedHashMap<>();
        containerPaths.put("/tmp", Files.createDirectories(container.resolve("tmp")).toString());
        for (String volume : strings(init.get("volumes"))) {
            String[] parts = volume.split(":");
            hostPathOfVolume.put(parts[0], Files.createDirectories(container.resolve(parts[1].substring(1))));
            String top = "/" + parts[1].substring(1).split("/")[0];
            containerPaths.put(top, container.resolve(top.substring(1)).toString());
        }
        String mapped = mapContainerPaths(script, containerPaths);

        Path bin = Files.createDirectories(temp.resolve("bin"));
        String wrapper = Files.readString(root.resolve("docker/fedlora-cli"));
        assertThat(wrapper).contains("'/app/lib/*'");
        executable(bin.resolve("fedlora-cli"), wrapper.replace("'/app/lib/*'",
                "'" + System.getProperty("java.class.path") + "'"));
        Path chownLog = temp.resolve("chown.log");
        executable(bin.resolve("chown"), "#!/bin/sh\necho \"$@\" >> '" + chownLog + "'\n");

        ProcessBuilder builder = new ProcessBuilder(new ArrayList<>(List.of("/bin/sh", "-ec", mapped)))
                .redirectErrorStream(true);
        builder.environment().put("PATH", bin + ":" + Path.of(System.getProperty("java.home"), "bin") + ":"
                + System.getenv().getOrDefault("PATH", "/usr/bin:/bin"));
        builder.environment().put("JAVA_OPTS", "-Xmx512m");
        builder.environment().remove("OMP_NUM_THREADS");
        builder.environment().remove("OPENBLAS_NUM_THREADS");
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(5, TimeUnit.MINUTES)).isTrue();
        assertThat(process.exitValue()).as("init script exit status; output:\n" + output).isZero();

        // the coordinator's volume holds the base model at the path the README tells federations to use
        Path coordinatorVolume = hostPathOfVolume.get(volumeAt("coordinator", "/data"));
        assertThat(coordinatorVolume.resolve("base-model/config.json")).isRegularFile();
        assertThat(coordinatorVolume.resolve("base-model/model.safetensors")).isRegularFile();

        // each agent reads its data dir from its own volume; init mounted that volume somewhere and filled it
        Path initOutput = container.resolve("tmp/init/clients");
        Map<String, String> datasetOwner = new HashMap<>();
        for (String agent : AGENTS) {
            String dataDir = environment(agent).get("FEDLORA_AGENT_DATA_DIR");
            String[] mount = mountContaining(agent, dataDir);
            Path volume = hostPathOfVolume.get(mount[0]);
            assertThat(volume).as(agent + "'s volume " + mount[0] + " is mounted by init").isNotNull();
            Path data = volume.resolve(relative(mount[1], dataDir));
            for (String file : List.of("train.jsonl", "eval.jsonl")) {
                assertThat(data.resolve(file)).as(agent + " " + file).isRegularFile();
                assertThat(Files.size(data.resolve(file))).as(agent + " " + file).isPositive();
            }
            String client = clientWithSameTrainingData(initOutput, data.resolve("train.jsonl"));
            assertThat(client).as(agent + "'s train.jsonl is one init-model client's").isNotNull();
            assertThat(datasetOwner.put(client, agent)).as(client + " given to two agents").isNull();
            Path work = volume.resolve(relative(mount[1], environment(agent).get("FEDLORA_AGENT_WORK_DIR")));
            assertThat(work).as(agent + " work dir").isDirectory();
        }
        assertThat(chownLog).content().contains("-R 10001:10001");
    }

    // ---------------------------------------------------------------------------------------------- helpers

    /** What compose hands the container: {@code ${VAR:-default}} with its default (no .env), {@code $$} as {@code $}. */
    private static String compose(String value) {
        String escaped = value.replace("$$", "\u0000");
        Matcher matcher = VARIABLE.matcher(escaped);
        StringBuilder out = new StringBuilder();
        while (matcher.find()) {
            assertThat(matcher.group(2)).as("${" + matcher.group(1) + "} in the init script has a default").isNotNull();
            matcher.appendReplacement(out, Matcher.quoteReplacement(matcher.group(2)));
        }
        matcher.appendTail(out);
        return out.toString().replace("\u0000", "$");
    }

    /** Replaces each absolute container path (at the start of a word) by its host dir, longest first. */
    private static String mapContainerPaths(String script, Map<String, String> paths) {
        List<String> keys = new ArrayList<>(paths.keySet());
        keys.sort((a, b) -> b.length() - a.length());
        String alternatives = String.join("|", keys.stream().map(Pattern::quote).toList());
        Matcher matcher = Pattern.compile("(?<![\\w/.$-])(" + alternatives + ")(?=/|\\s|$|\"|')").matcher(script);
        StringBuilder out = new StringBuilder();
        while (matcher.find()) {
            matcher.appendReplacement(out, Matcher.quoteReplacement(paths.get(matcher.group(1))));
        }
        matcher.appendTail(out);
        return out.toString();
    }

    /** The init-model client directory whose train.jsonl has the same bytes, or null. */
    private static String clientWithSameTrainingData(Path clients, Path train) throws IOException {
        byte[] bytes = Files.readAllBytes(train);
        try (var dirs = Files.list(clients)) {
            for (Path dir : dirs.toList()) {
                if (java.util.Arrays.equals(bytes, Files.readAllBytes(dir.resolve("train.jsonl")))) {
                    return dir.getFileName().toString();
                }
            }
        }
        return null;
    }

    private static String volumeAt(String service, String containerPath) {
        for (String volume : strings(service(service).get("volumes"))) {
            String[] parts = volume.split(":");
            if (parts[1].equals(containerPath)) {
                return parts[0];
            }
        }
        throw new AssertionError(service + " mounts nothing at " + containerPath);
    }

    /** {volume, mount point} of the service's volume that contains the path. */
    private static String[] mountContaining(String service, String path) {
        for (String volume : strings(service(service).get("volumes"))) {
            String[] parts = volume.split(":");
            if (path.equals(parts[1]) || path.startsWith(parts[1] + "/")) {
                return new String[] {parts[0], parts[1]};
            }
        }
        throw new AssertionError(service + " keeps " + path + " in no volume");
    }

    private static String relative(String mountPoint, String path) {
        return path.equals(mountPoint) ? "" : path.substring(mountPoint.length() + 1);
    }

    private static void executable(Path file, String text) throws IOException {
        Files.writeString(file, text);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwx------"));
    }

    private static Path repositoryRoot() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve("docker-compose.yml")) && Files.isRegularFile(dir.resolve("pom.xml"))) {
                return dir;
            }
        }
        throw new IllegalStateException("no docker-compose.yml above " + Path.of("").toAbsolutePath());
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> service(String name) {
        Object definition = services.get(name);
        assertThat(definition).as("service " + name).isInstanceOf(Map.class);
        return (Map<String, Object>) definition;
    }

    private static Map<String, String> environment(String service) {
        Map<String, String> values = new LinkedHashMap<>();
        Object env = service(service).get("environment");
        if (env instanceof Map<?, ?> mapping) {
            mapping.forEach((k, v) -> values.put(k.toString(), v == null ? "" : v.toString()));
        }
        return values;
    }

    @SuppressWarnings("unchecked")
    private static List<String> strings(Object value) {
        if (value instanceof String single) {
            return List.of(single);
        }
        return value == null ? List.of() : ((List<Object>) value).stream().map(String::valueOf).toList();
    }
}
