package io.fedlora.coordinator;

import io.fedlora.cli.Cli;
import io.fedlora.cli.FedloraVersion;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Unmatched;

/**
 * The coordinator's command line ({@code ./fedlora coordinator}), checked before Spring starts so that
 * {@code --help} and a typo such as {@code --datadir X} never start a coordinator. {@code --data-dir DIR} is the
 * short form of {@code --fedlora.data-dir=DIR}; Spring properties pass through as {@code --KEY=VALUE} for the
 * prefixes the coordinator reads; anything else is refused with the usage (exit status 2).
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
public final class CoordinatorArguments implements Callable<Integer> {

    /** What runs once the command line is good: the Spring application, given the Spring arguments. */
    @FunctionalInterface
    public interface Server {
        int run(String[] springArgs) throws Exception;
    }

    private static final Pattern PASS_THROUGH = Pattern.compile(
            "--(fedlora|spring|server|management|logging|springdoc)\\.[A-Za-z0-9._\\[\\]-]+=.*", Pattern.DOTALL);

    @Option(names = "--data-dir", paramLabel = "DIR",
            description = "blobs, embedded PostgreSQL, admin key (default ./.fedlora/coordinator)")
    Path dataDir;

    @Unmatched
    List<String> unmatched = new ArrayList<>();

    @Spec
    CommandSpec spec;

    private final Server server;

    /** Options that start {@code server} when run. */
    public CoordinatorArguments(Server server) {
        this.server = server;
    }

    /** Options only parsed (tests, the README's usage). */
    public CoordinatorArguments() {
        this(springArgs -> {
            throw new IllegalStateException("this command line only parses");
        });
    }

    @Override
    public Integer call() throws Exception {
        return server.run(springArgs(spec.commandLine()));
    }

    /** The coordinator's command line, configured as every fedlora command is. */
    public static CommandLine commandLine() {
        return Cli.commandLine(new CoordinatorArguments());
    }

    /** Parses {@code args} (throwing {@link CommandLine.ParameterException} on a bad one) into Spring arguments. */
    public static String[] toSpringArgs(String[] args) {
        CoordinatorArguments a = new CoordinatorArguments();
        CommandLine cl = Cli.commandLine(a);
        cl.parseArgs(args);
        return a.springArgs(cl);
    }

    /** The Spring arguments these options stand for; refuses what the coordinator would not read. */
    String[] springArgs(CommandLine cl) {
        List<String> out = new ArrayList<>();
        if (dataDir != null) {
            if (dataDir.toString().isBlank()) {
                throw new CommandLine.ParameterException(cl, "Invalid value for option '--data-dir': it is blank");
            }
            out.add("--fedlora.data-dir=" + dataDir);
        }
        out.addAll(Cli.passThrough(cl, unmatched, PASS_THROUGH));
        return out.toArray(String[]::new);
    }
}
