package io.fedlora.demo.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.fedlora.demo.process.FedloraHome;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * {@code ./fedlora bench federation --clients N --model DIR [--rounds R] [--targets m,...] [--rank r] [--json]}:
 * JSON on stdout (with {@code --json} only JSON), progress and logs on stderr. Exit 0 when every client finished
 * and every round was exact, 1 otherwise, 2 on a bad command line.
 */
public final class BenchFederationCli {

    static final String USAGE = """
            usage: fedlora bench federation --clients N --model DIR [options]
              --clients N        simulated clients (each its own gRPC connection), all in every round
              --model DIR        an HF GPT-2 model directory (e.g. ./fedlora init-model's model/)
              --rounds R         rounds (default 1)
              --targets a,b      target modules (default c_attn)
              --rank r           LoRA rank (default 8)
              --seed S           seed of the clients' random factors and example counts (default 42)
              --deadline S       round deadline in seconds (default 600)
              --coordinator-heap the coordinator's -Xmx (default 3g)
              --work DIR         where the coordinator's data and logs go (default: a new temp dir)
              --json             print only the JSON result on stdout
            """;

    private BenchFederationCli() {
    }

    public static void main(String[] args) {
        System.exit(run(Arrays.asList(args), System.out, System.err));
    }

    static int run(List<String> args, PrintStream out, PrintStream err) {
        FederationBench.Options o;
        boolean json = false;
        try {
            int clients = 0;
            Path model = null;
            int rounds = 1;
            List<String> targets = List.of("c_attn");
            int rank = 8;
            long seed = 42;
            int deadline = 600;
            String heap = "3g";
            Path work = null;
            for (int i = 0; i < args.size(); i++) {
                String a = args.get(i);
                switch (a) {
                    case "--json" -> json = true;
                    case "-h", "--help" -> {
                        out.print(USAGE);
                        return 0;
                    }
                    case "--clients" -> clients = positive(a, value(args, ++i, a));
                    case "--model" -> model = Path.of(value(args, ++i, a));
                    case "--rounds" -> rounds = positive(a, value(args, ++i, a));
                    case "--targets" -> targets = List.of(value(args, ++i, a).split(","));
                    case "--rank" -> rank = positive(a, value(args, ++i, a));
                    case "--seed" -> seed = Long.parseLong(value(args, ++i, a));
                    case "--deadline" -> deadline = positive(a, value(args, ++i, a));
                    case "--coordinator-heap" -> heap = value(args, ++i, a);
                    case "--work" -> work = Path.of(value(args, ++i, a));
                    default -> throw new IllegalArgumentException("unknown option " + a);
                }
            }
            if (clients == 0 || model == null) {
                throw new IllegalArgumentException("--clients and --model are required");
            }
            if (!Files.isRegularFile(model.resolve("config.json"))) {
                throw new IllegalArgumentException("--model " + model + " is not a model directory (no config.json)");
            }
            if (!heap.matches("[0-9]+[mMgG]")) {
                throw new IllegalArgumentException("--coordinator-heap must look like 3g or 1500m");
            }
            o = new FederationBench.Options(clients, model, rounds, targets, rank, seed, deadline, heap,
                    work != null ? work : Files.createTempDirectory("fedlora-bench-federation"));
        } catch (Exception e) {
            err.println("fedlora bench federation: " + e.getMessage());
            err.print(USAGE);
            return 2;
        }
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

    private static String value(List<String> args, int i, String option) {
        if (i >= args.size()) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args.get(i);
    }

    private static int positive(String option, String v) {
        int n = Integer.parseInt(v);
        if (n <= 0) {
            throw new IllegalArgumentException(option + " must be positive, got " + n);
        }
        return n;
    }
}
