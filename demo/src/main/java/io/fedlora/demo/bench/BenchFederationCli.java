package io.fedlora.demo.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.fedlora.aggregation.family.ModelFamilies;
import io.fedlora.aggregation.family.ModelSpec;
import io.fedlora.aggregation.family.UnsupportedModelException;
import io.fedlora.cli.Cli;
import io.fedlora.cli.FedloraVersion;
import io.fedlora.cli.PositiveInteger;
import io.fedlora.demo.process.FedloraHome;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ./fedlora bench federation}: JSON on stdout (with {@code --json} only JSON), progress and logs on stderr.
 * The command line goes through the shared {@code fedlora-cli} module like every other command.
 */
@Command(name = "fedlora bench federation", mixinStandardHelpOptions = true, versionProvider = FedloraVersion.class,
        description = {"Load-tests a real coordinator process (embedded PostgreSQL) with N simulated clients, each",
                "its own gRPC connection on loopback, all in every round; checks every round's aggregate",
                "independently and prints one JSON object (throughput, latencies, coordinator RSS and heap)."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            "0:every client finished and every round was exact",
            "1:a client failed, a round was not exact, or the benchmark could not run",
            "2:bad command line (unknown option, bad value, not a model directory)"})
public final class BenchFederationCli implements Callable<Integer> {

    @Option(names = "--clients", paramLabel = "N", required = true, converter = PositiveInteger.class,
            description = "simulated clients (each its own gRPC connection), all in every round")
    int clients;

    @Option(names = "--model", paramLabel = "DIR", required = true,
            description = "an HF model directory: GPT-2, Llama, Mistral or Qwen2 (e.g. init-model's)")
    Path model;

    @Option(names = "--rounds", paramLabel = "R", converter = PositiveInteger.class,
            description = "rounds (default ${DEFAULT-VALUE})")
    int rounds = 1;

    @Option(names = "--targets", paramLabel = "MODULE", split = ",",
            description = "LoRA target modules, comma-separated (default: the family's, c_attn for GPT-2,"
                    + " q_proj,v_proj for Llama)")
    List<String> targets;

    @Option(names = "--rank", paramLabel = "r", converter = PositiveInteger.class,
            description = "LoRA rank (default ${DEFAULT-VALUE})")
    int rank = 8;

    @Option(names = "--seed", paramLabel = "S",
            description = "seed of the clients' random factors and example counts (default ${DEFAULT-VALUE})")
    long seed = 42;

    @Option(names = "--deadline", paramLabel = "S", converter = PositiveInteger.class,
            description = "round deadline in seconds (default ${DEFAULT-VALUE})")
    int deadline = 600;

    @Option(names = "--coordinator-heap", paramLabel = "SIZE",
            description = "the coordinator's -Xmx, e.g. 3g or 1500m (default ${DEFAULT-VALUE})")
    String heap = "3g";

    @Option(names = "--coordinator-jvm-option", paramLabel = "OPTION",
            description = "one more JVM option for the coordinator, after the launcher's defaults (repeatable), "
                    + "e.g. -Xmn64m or -XX:NativeMemoryTracking=summary")
    List<String> coordinatorJvmOptions = new java.util.ArrayList<>();

    @Option(names = "--work", paramLabel = "DIR",
            description = "where the coordinator's data and logs go, kept (default: a new temp dir, deleted after a successful run)")
    Path work;

    @Option(names = "--clients-hold-base", description = "each client holds the --model directory itself, checks it"
            + " against version 0's manifest (sha256 per tensor) and downloads only the delta from version 0, as an"
            + " agent with --base-model does")
    boolean clientsHoldBase;

    @Option(names = "--json", description = "print only the JSON result on stdout")
    boolean json;

    @Spec
    CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(List.of(args), System.out, System.err));
    }

    /** The command line, configured as every fedlora command is (the README's usage comes from here). */
    public static CommandLine commandLine() {
        return Cli.commandLine(new BenchFederationCli());
    }

    static int run(List<String> args, PrintStream out, PrintStream err) {
        return Cli.execute(new BenchFederationCli(), args.toArray(String[]::new), out, err);
    }

    @Override
    public Integer call() throws IOException {
        FederationBench.Options parsed = options();
        // the data dir is made only for a run, never by parsing
        FederationBench.Options o = parsed.workDir() != null ? parsed
                : parsed.withWorkDir(Files.createTempDirectory("fedlora-bench-federation"));
        PrintWriter err = spec.commandLine().getErr();
        int exit = 1;
        try {
            exit = measure(o);
            return exit;
        } finally {
            // a run's data dir holds the model, every version and export (GPT-2-small: ~3.5 GB): one the bench made
            // itself goes once the run succeeded; a failed run's, or one given with --work, is kept for its logs
            if (work == null && exit == 0) {
                io.fedlora.demo.run.WorkDir.deleteTree(o.workDir());
            } else {
                err.println("bench federation: coordinator data and logs kept in " + o.workDir());
            }
            err.flush();
        }
    }

    private int measure(FederationBench.Options o) {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        ObjectMapper mapper = new ObjectMapper();
        try {
            Map<String, Object> result = new FederationBench(FedloraHome.locate(), mapper).run(o);
            out.println(mapper.writeValueAsString(result));
            if (!json) {
                err.println("bench federation: " + result.get("clients") + " clients, failed " + result.get("failed_clients")
                        + ", refused calls " + result.get("refused_calls") + ", exactness "
                        + result.get("independent_exactness_rel_error") + ", coordinator peak RSS "
                        + result.get("coordinator_peak_rss_bytes") + " B, heap " + result.get("coordinator_peak_heap_bytes")
                        + " B, heartbeat p99 " + result.get("heartbeat_p99_ms") + " ms");
            }
            Object exact = result.get("independent_exactness_rel_error");
            boolean ok = ((Number) result.get("failed_clients")).intValue() == 0
                    && exact instanceof Number n && n.doubleValue() <= 1e-5;
            return ok ? 0 : 1;
        } catch (Exception e) {
            err.println("fedlora bench federation failed: " + e);
            return 1;
        }
    }

    /**
     * The options as the benchmark takes them (the data dir null unless {@code --work} names one); what only shows on
     * the file system is a usage error too.
     */
    FederationBench.Options options() throws IOException {
        CommandLine cl = spec.commandLine();
        if (!Files.isRegularFile(model.resolve("config.json"))) {
            throw new CommandLine.ParameterException(cl,
                    "Invalid value for option '--model': " + model + " is not a model directory (no config.json)");
        }
        if (!heap.matches("[0-9]+[mMgG]")) {
            throw new CommandLine.ParameterException(cl,
                    "Invalid value for option '--coordinator-heap': '" + heap + "' (expected e.g. 3g or 1500m)");
        }
        ModelSpec family;
        try {
            family = ModelFamilies.read(model);
        } catch (UnsupportedModelException e) {
            throw new CommandLine.ParameterException(cl, "Invalid value for option '--model': " + model + ": " + e.getMessage());
        }
        List<String> chosen = targets == null ? family.defaultTargets() : targets;
        if (chosen.isEmpty() || chosen.stream().anyMatch(String::isBlank)) {
            throw new CommandLine.ParameterException(cl, "Invalid value for option '--targets': " + chosen);
        }
        try {
            family.resolveTargets(chosen);
        } catch (UnsupportedModelException e) {
            throw new CommandLine.ParameterException(cl, "Invalid value for option '--targets': " + e.getMessage());
        }
        return new FederationBench.Options(clients, model, rounds, List.copyOf(chosen), rank, seed, deadline, heap,
                List.copyOf(coordinatorJvmOptions), work, clientsHoldBase);
    }
}
