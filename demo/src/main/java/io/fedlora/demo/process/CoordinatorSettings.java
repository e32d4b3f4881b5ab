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

    /** The Spring Boot arguments that realise these settings. */
    public List<String> springArgs() {
        List<String> args = new java.util.ArrayList<>(List.of(
                "--fedlora.data-dir=" + dataDir.toAbsolutePath(),
                "--server.port=" + httpPort,
                "--server.address=127.0.0.1",
                "--spring.grpc.server.port=" + grpcPort,
                "--spring.grpc.server.host=127.0.0.1"));
        args.addAll(extraArgs);
        return args;
    }

    /** The admin API key travels in the environment: command lines are readable by every local user. */
    public java.util.Map<String, String> environment() {
        return java.util.Map.of("FEDLORA_ADMIN_API_KEY", apiKey);
    }
}
