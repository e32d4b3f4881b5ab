package io.fedlora.demo.status;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import io.fedlora.cli.Cli;
import io.fedlora.cli.ExitCode;
import io.fedlora.cli.FedloraVersion;
import io.fedlora.demo.admin.AdminApiException;
import io.fedlora.demo.admin.AdminClient;
import io.fedlora.demo.admin.FederationView;
import io.fedlora.demo.admin.RoundView;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ./fedlora status}: what a terminal user asks a running coordinator — its federations, or one federation's
 * round history (state, clients, exactness error, FedAvg deviation, evaluation, times) as a table or, with
 * {@code --json}, as the admin API's documents on stdout. Errors go to stderr.
 */
@Command(name = "fedlora status", mixinStandardHelpOptions = true, versionProvider = FedloraVersion.class,
        description = {"Shows a coordinator's federations, or one federation's round history.",
                "The admin API key comes from --api-key-file or the FEDLORA_ADMIN_API_KEY environment variable."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:shown", "1:the coordinator could not be reached or refused the request",
                "2:bad command line or no API key"})
public final class StatusCommand implements Callable<Integer> {

    static final String KEY_ENV = "FEDLORA_ADMIN_API_KEY";

    @Option(names = "--coordinator", paramLabel = "URL", defaultValue = "http://127.0.0.1:8080",
            description = "the coordinator's REST address (default: ${DEFAULT-VALUE})")
    URI coordinator;

    @Option(names = "--federation", paramLabel = "ID", description = "show this federation's rounds (default: list federations)")
    String federation;

    @Option(names = "--json", description = "print the admin API's JSON on stdout instead of a table")
    boolean json;

    @Option(names = "--api-key-file", paramLabel = "FILE", description = "file holding the admin API key (e.g. <data-dir>/admin-api-key)")
    Path apiKeyFile;

    @Spec CommandSpec spec;

    private final Map<String, String> env;

    StatusCommand(Map<String, String> env) {
        this.env = env;
    }

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true, StandardCharsets.UTF_8),
                new PrintWriter(System.err, true, StandardCharsets.UTF_8), System.getenv()));
    }

    /** The command line, configured as every fedlora command is (the README's usage comes from here). */
    public static CommandLine commandLine() {
        return Cli.commandLine(new StatusCommand(Map.of()));
    }

    /** Runs the command with the given streams and environment; returns the exit code. */
    public static int run(String[] args, PrintWriter out, PrintWriter err, Map<String, String> env) {
        CommandLine cli = Cli.commandLine(new StatusCommand(env));
        cli.setOut(out);
        cli.setErr(err);
        // an unreachable or refusing coordinator is an expected failure: its one-line reason, no exception class
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            err.println("error: " + e.getMessage());
            return ExitCode.FAILURE;
        });
        int code = cli.execute(args);
        out.flush();
        err.flush();
        return code;
    }

    @Override
    public Integer call() {
        String key = apiKey();
        PrintWriter out = spec.commandLine().getOut();
        ObjectMapper mapper = new ObjectMapper();
        AdminClient admin = new AdminClient(coordinator, key, mapper);
        try {
            if (federation == null) {
                List<FederationView> all = admin.federations();
                if (json) {
                    ArrayNode array = mapper.createArrayNode();
                    all.forEach(f -> array.add(f.json()));
                    out.println(array);
                } else {
                    out.print(StatusTables.federations(all));
                }
            } else {
                FederationView f = admin.federation(federation);
                List<RoundView> rounds = admin.rounds(federation);
                if (json) {
                    ObjectNode doc = mapper.createObjectNode();
                    doc.set("federation", f.json());
                    ArrayNode array = doc.putArray("rounds");
                    rounds.forEach(r -> array.add(r.json()));
                    out.println(doc);
                } else {
                    out.print(StatusTables.federation(f));
                    out.print(StatusTables.rounds(rounds));
                }
            }
            return 0;
        } catch (AdminApiException e) {
            throw new IllegalStateException(describe(e), e);
        } catch (UncheckedIOException e) {
            throw new IllegalStateException("cannot reach the coordinator at " + coordinator + " (" + e.getCause() + ");"
                    + " is it running, and is this its REST port (not gRPC)?", e);
        }
    }

    private String describe(AdminApiException e) {
        return switch (e.status()) {
            case 401 -> "the coordinator at " + coordinator + " refused the API key (401): use its admin key"
                    + " (fedlora.admin.api-key / FEDLORA_ADMIN_API_KEY, or <data-dir>/admin-api-key)";
            case 404 -> "no federation " + federation + " on " + coordinator + " (run ./fedlora status to list them)";
            default -> e.getMessage();
        };
    }

    private String apiKey() {
        String key;
        if (apiKeyFile != null) {
            try {
                key = Files.readString(apiKeyFile).strip();
            } catch (IOException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), "cannot read --api-key-file " + apiKeyFile
                        + ": " + e.getMessage());
            }
        } else {
            key = env.getOrDefault(KEY_ENV, "").strip();
        }
        if (key.isEmpty()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "no admin API key: set " + KEY_ENV
                    + " or pass --api-key-file FILE");
        }
        return key;
    }
}
