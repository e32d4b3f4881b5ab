package io.fedlora.coordinator;

import io.fedlora.cli.Cli;
import io.fedlora.cli.FedloraVersion;
import io.fedlora.cli.SpringArguments;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The coordinator's command line ({@code ./fedlora coordinator}), checked before Spring starts so that
 * {@code --help} and a typo such as {@code --datadir X} never start a coordinator. {@code --data-dir DIR} is the
 * short form of {@code --fedlora.data-dir=DIR}; Spring properties pass through as {@code --KEY=VALUE} for the
 * prefixes the coordinator reads; anything else is refused with the usage (exit status 2), as {@link SpringArguments}
 * does for every Spring-launching command.
 */
@Command(name = "fedlora coordinator", mixinStandardHelpOptions = true, versionProvider = FedloraVersion.class,
        description = {"The coordinator: schedules rounds, collects LoRA updates over gRPC (port 9090), aggregates",
                "them exactly and serves the admin REST API, dashboard and Swagger UI (port 8080). With no",
                "spring.datasource.url it runs an embedded PostgreSQL under its data dir. The admin key comes",
                "from FEDLORA_ADMIN_API_KEY or --fedlora.admin.api-key=KEY, else one is generated into",
                "DATA_DIR/admin-api-key."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            "0:stopped (SIGINT/SIGTERM; 130/143 when the JVM reports the signal)",
            "1:cannot start: configuration, database, ports in use",
            "2:bad command line"},
        footerHeading = "%nProperties:%n",
        footer = {"  --fedlora.KEY=VALUE, --spring.KEY=VALUE, --server.KEY=VALUE, --management.KEY=VALUE,",
                "  --logging.KEY=VALUE, --springdoc.KEY=VALUE pass through to Spring, e.g.",
                "  --server.port=8080 --spring.grpc.server.port=9090 --server.address=127.0.0.1"})
public final class CoordinatorArguments extends SpringArguments {

    private static final Pattern PASS_THROUGH = Pattern.compile(
            "--(fedlora|spring|server|management|logging|springdoc)\\.[A-Za-z0-9._\\[\\]-]+=.*", Pattern.DOTALL);

    @Option(names = "--data-dir", paramLabel = "DIR",
            description = "blobs, embedded PostgreSQL, admin key (default ./.fedlora/coordinator)")
    Path dataDir;

    /** Options that start {@code server} when run. */
    public CoordinatorArguments(Application server) {
        super(server);
    }

    /** Options only parsed (tests, the README's usage). */
    public CoordinatorArguments() {
    }

    /** The coordinator's command line, configured as every fedlora command is. */
    public static CommandLine commandLine() {
        return Cli.commandLine(new CoordinatorArguments());
    }

    /** Parses {@code args} (throwing {@link CommandLine.ParameterException} on a bad one) into Spring arguments. */
    public static String[] toSpringArgs(String[] args) {
        return toSpringArgs(CoordinatorArguments::new, args);
    }

    @Override
    protected Pattern passThrough() {
        return PASS_THROUGH;
    }

    @Override
    protected List<String> optionArgs(CommandLine cl) {
        if (dataDir == null) {
            return List.of();
        }
        if (dataDir.toString().isBlank()) {
            throw new CommandLine.ParameterException(cl, "Invalid value for option '--data-dir': it is blank");
        }
        return List.of("--fedlora.data-dir=" + dataDir);
    }
}
