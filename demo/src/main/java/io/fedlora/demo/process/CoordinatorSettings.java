package io.fedlora.demo.process;

import java.nio.file.Path;
import java.util.List;

/**
 * How to start a coordinator process. With no {@code --spring.datasource.url} among
 * {@code extraArgs} the coordinator starts its own embedded PostgreSQL under {@code dataDir}.
 *
 * @param name      process name (log file {@code <name>.log})
 * @param dataDir   the coordinator's data directory (blob store, embedded database)
 * @param httpPort  REST/actuator port
 * @param grpcPort  gRPC port the agents connect to
 * @param apiKey    admin API key for the REST API
 * @param extraArgs further Spring arguments, e.g. an external datasource
 */
public record CoordinatorSettings(String name, Path dataDir, int httpPort, int grpcPort, String apiKey,
                                  List<String> extraArgs) {

    public CoordinatorSettings {
        extraArgs = List.copyOf(extraArgs);
    }

    /** Settings on fresh free ports with a random API key. */
    public static CoordinatorSettings onFreePorts(String name, Path dataDir, List<String> extraArgs) {
        return new CoordinatorSettings(name, dataDir, FreePorts.next(), FreePorts.next(), ApiKeys.random(), extraArgs);
    }

    /** A database password given among {@code extraArgs}; it is moved into the environment. */
    private static final String DATABASE_PASSWORD_ARG = "--spring.datasource.password=";

    /**
     * The Spring Boot arguments that realise these settings. A {@code --spring.datasource.password=} among
     * {@code extraArgs} is left out: it travels in {@link #environment()} instead.
     */
    public List<String> springArgs() {
        List<String> args = new java.util.ArrayList<>(List.of(
                "--fedlora.data-dir=" + dataDir.toAbsolutePath(),
                "--server.port=" + httpPort,
                "--server.address=127.0.0.1",
                "--spring.grpc.server.port=" + grpcPort,
                "--spring.grpc.server.host=127.0.0.1"));
        args.addAll(publicExtraArgs());
        return args;
    }

    /**
     * The admin API key and any database password travel in the environment: command lines are readable
     * by every local user ({@code ps}, {@code /proc/PID/cmdline}) and end up in log headers.
     */
    public java.util.Map<String, String> environment() {
        java.util.Map<String, String> env = new java.util.LinkedHashMap<>();
        env.put("FEDLORA_ADMIN_API_KEY", apiKey);
        extraArgs.stream().filter(a -> a.startsWith(DATABASE_PASSWORD_ARG)).reduce((first, last) -> last)
                .ifPresent(a -> env.put("SPRING_DATASOURCE_PASSWORD", a.substring(DATABASE_PASSWORD_ARG.length())));
        return java.util.Map.copyOf(env);
    }

    private List<String> publicExtraArgs() {
        return extraArgs.stream().filter(a -> !a.startsWith(DATABASE_PASSWORD_ARG)).toList();
    }

    /** Without the key or the database password: settings end up in logs and assertion messages. */
    @Override
    public String toString() {
        return "CoordinatorSettings[name=" + name + ", dataDir=" + dataDir + ", httpPort=" + httpPort + ", grpcPort="
                + grpcPort + ", apiKey=***, extraArgs=" + publicExtraArgs() + "]";
    }
}
