package io.fedlora.demo.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fedlora.aggregation.basemodel.BaseHashCache;
import io.fedlora.aggregation.basemodel.LocalBaseModel;
import io.fedlora.aggregation.family.ModelFamilies;
import io.fedlora.aggregation.lora.WeightLayout;
import io.fedlora.demo.admin.AdminClient;
import io.fedlora.demo.admin.FederationSpec;
import io.fedlora.demo.admin.RoundView;
import io.fedlora.demo.process.CoordinatorProcess;
import io.fedlora.demo.process.CoordinatorSettings;
import io.fedlora.demo.process.FederationProcesses;
import io.fedlora.demo.process.ProcessLauncher;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code ./fedlora bench federation}: a real coordinator process and N simulated clients over real gRPC on
 * loopback, measured from outside (see {@link SimulatedAgent}, {@link CoordinatorProbe}, {@link ExactnessCheck}).
 */
final class FederationBench {

    private static final Logger log = LoggerFactory.getLogger(FederationBench.class);

    /** What to run. */
    record Options(int clients, Path model, int rounds, List<String> targets, int rank, long seed, int deadlineSeconds,
                   String coordinatorHeap, List<String> coordinatorJvmOptions, Path workDir, boolean clientsHoldBase) {
        Options withWorkDir(Path dir) {
            return new Options(clients, model, rounds, targets, rank, seed, deadlineSeconds, coordinatorHeap,
                    coordinatorJvmOptions, dir, clientsHoldBase);
        }
    }

    private final Path home;
    private final ObjectMapper mapper;

    FederationBench(Path home, ObjectMapper mapper) {
        this.home = home;
        this.mapper = mapper;
    }

    /** The coordinator's memory settings (the launcher's) and then the run's extra options. */
    private static List<String> coordinatorJvmOptions(Options o) {
        List<String> options = new ArrayList<>(FederationProcesses.COORDINATOR_MEMORY_OPTIONS);
        options.addAll(o.coordinatorJvmOptions());
        return options;
    }

    Map<String, Object> run(Options o) throws Exception {
        io.fedlora.demo.run.WorkDir.allowSearch(Files.createDirectories(o.workDir()));
        try (ProcessLauncher launcher = new ProcessLauncher(o.workDir().resolve("logs"))) {
            FederationProcesses processes = new FederationProcesses(home, launcher);
            CoordinatorSettings settings = CoordinatorSettings.onFreePorts("bench-coordinator",
                    o.workDir().resolve("coordinator"), List.of());
            // the coordinator as ./fedlora coordinator runs it (full JIT, the launcher's memory settings)
            List<String> jvm = new ArrayList<>(List.of("-Xmx" + o.coordinatorHeap(), "-Dfile.encoding=UTF-8"));
            jvm.addAll(coordinatorJvmOptions(o));
            long t0 = System.nanoTime();
            CoordinatorProcess coordinator = processes.startCoordinator(settings, Duration.ofMinutes(3), jvm);
            log.info("coordinator up in {} s (pid {})", (System.nanoTime() - t0) / 1_000_000_000, coordinator.process().pid());
            try (CoordinatorProbe probe = new CoordinatorProbe(coordinator.process().pid(), coordinator.baseUri())) {
                return measure(o, coordinator, probe);
            }
        }
    }

    private Map<String, Object> measure(Options o, CoordinatorProcess coordinator, CoordinatorProbe probe) throws Exception {
        AdminClient admin = new AdminClient(coordinator.baseUri(), coordinator.apiKey(), mapper);
        FederationSpec spec = new FederationSpec("bench-" + o.clients(), o.model().toAbsolutePath().toString(),
                o.targets(), o.rank(), 2.0 * o.rank(), false, "fedex", "examples", o.rounds(),
                new FederationSpec.ClientsPerRound(1.0, o.clients()), o.deadlineSeconds(), o.clients(), 0, false,
                new FederationSpec.TrainingSpec(1, 1, 1, 1e-3, 0.0, 1.0, o.seed(), 16), 1e6);
        String federationId = admin.createFederation(spec).id();
        List<String> tokens = new ArrayList<>();
        for (int done = 0; done < o.clients(); done += 100) {
            tokens.addAll(admin.issueEnrolmentTokens(federationId, Math.min(100, o.clients() - done), 3600));
        }
        admin.start(federationId);
        probe.sample();
        long heapBefore = probe.peakHeapBytes.get();
        long rssBefore = probe.peakRssBytes.get();

        BenchStats stats = new BenchStats();
        // one copy on disk for all clients, as each would hold its own: hashed once, then checked per client
        LocalBaseModel base = o.clientsHoldBase() ? LocalBaseModel.open(o.model(), BaseHashCache.inMemory()) : null;
        ScheduledExecutorService beats = Executors.newScheduledThreadPool(4);
        ExecutorService pool = Executors.newFixedThreadPool(o.clients());
        long start = System.currentTimeMillis();
        List<Future<Integer>> agents = new ArrayList<>();
        for (int i = 0; i < o.clients(); i++) {
            SimulatedAgent a = new SimulatedAgent(i, o.seed(), coordinator.grpcAddress(), tokens.get(i), stats, beats, base);
            agents.add(pool.submit(a::run));
        }
        int failed = 0;
        long accepted = 0;
        List<String> failures = new ArrayList<>();
        for (Future<Integer> f : agents) {
            try {
                accepted += f.get(o.deadlineSeconds() * (long) o.rounds() + 600, TimeUnit.SECONDS);
            } catch (Exception e) {
                failed++;
                if (failures.size() < 5) {
                    failures.add(String.valueOf(e.getCause() == null ? e : e.getCause()));
                }
            }
        }
        long wallMs = System.currentTimeMillis() - start;
        if (base != null) {
            base.close();
        }
        pool.shutdownNow();
        beats.shutdownNow();
        probe.sample();
        // the peaks while clients ran, before the check below exports versions over REST (a bench step, no client's)
        Map<String, Long> duringRounds = probe.peaks();

        List<RoundView> rounds = RoundView.latestAttempts(admin.rounds(federationId));
        List<Map<String, Object>> perRound = new ArrayList<>();
        Map<String, WeightLayout> layouts = new LinkedHashMap<>();
        ModelFamilies.read(o.model()).adaptableModules().forEach(m -> layouts.put(m.name(), m.layout()));
        double scale = stats.plan == null ? Double.NaN
                : stats.plan.getUseRslora() ? stats.plan.getAlpha() / Math.sqrt(stats.plan.getRank())
                : stats.plan.getAlpha() / stats.plan.getRank();
        Path scratch = o.workDir().resolve("exports");
        double worstExact = 0;
        for (RoundView r : rounds) {
            if (r.round() < 1) {
                continue;
            }
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("round", r.round());
            m.put("status", r.status());
            long receipts = stats.receipts.containsKey(r.round()) ? stats.receipts.get(r.round()).sum() : 0;
            m.put("uploads", receipts);
            Long first = stats.firstTask.containsKey(r.round()) ? stats.firstTask.get(r.round()).get() : null;
            Long last = stats.lastReceipt.containsKey(r.round()) ? stats.lastReceipt.get(r.round()).get() : null;
            double collectS = first == null || last == null ? Double.NaN : (last - first) / 1000.0;
            m.put("collection_s", collectS);
            m.put("uploads_per_s", collectS > 0 ? receipts / collectS : null);
            m.put("aggregation_ms", r.metrics().aggregateMs());
            m.put("coordinator_exactness_rel_error", r.metrics().exactnessRelError());
            Double exact = null;
            if (r.isPublished() && receipts == o.clients() && stats.expected.containsKey(r.round())) {
                Path prev = scratch.resolve("v" + (r.round() - 1) + ".zip");
                Path pub = scratch.resolve("v" + r.round() + ".zip");
                if (!Files.exists(prev)) {
                    admin.exportModel(federationId, r.round() - 1, prev);
                }
                admin.exportModel(federationId, r.round(), pub);
                exact = ExactnessCheck.relError(prev, pub, scratch, stats.expected.get(r.round()), r.round(),
                        o.clients(), o.seed(), scale, layouts);
                worstExact = Math.max(worstExact, exact);
            }
            m.put("independent_exactness_rel_error", exact);
            perRound.add(m);
        }

        Map<String, Object> out = new LinkedHashMap<>();
        out.put("benchmark", "federation");
        out.put("clients", o.clients());
        out.put("rounds", o.rounds());
        out.put("model", o.model().toString());
        out.put("targets", o.targets());
        out.put("rank", o.rank());
        out.put("coordinator_heap_limit", o.coordinatorHeap());
        out.put("coordinator_jvm_options", coordinatorJvmOptions(o));
        out.put("coordinator_glibc_tunables", FederationProcesses.coordinatorMallocTunables());
        out.put("federation_status", admin.federation(federationId).status());
        out.put("wall_s", wallMs / 1000.0);
        out.put("per_round", perRound);
        out.put("independent_exactness_rel_error", perRound.isEmpty() ? null : worstExact);
        out.put("coordinator_peak_heap_bytes", probe.peakHeapBytes.get());
        out.put("coordinator_heap_after_start_bytes", heapBefore);
        out.put("coordinator_peak_rss_bytes", probe.vmHwmBytes());
        out.put("coordinator_rss_after_start_bytes", rssBefore);
        out.put("coordinator_peak_accumulator_elements", probe.peakAccumulatorElements.get());
        // sampled peaks (bytes) of RSS and its parts, heap used / committed / live after GC, NIO buffers:
        // while the clients ran, and over the whole run (the exactness check's exports included)
        out.put("coordinator_peaks_during_rounds", duringRounds);
        probe.sample();
        out.put("coordinator_peaks", probe.peaks());
        long upWire = stats.uploadWireBytes.sum();
        long upRaw = stats.uploadRawBytes.sum();
        long downWire = stats.downloadWireBytes.sum();
        long downRaw = stats.downloadRawBytes.sum();
        out.put("upload_wire_bytes", upWire);
        out.put("upload_raw_tensor_bytes", upRaw);
        out.put("upload_wire_overhead", upRaw == 0 ? null : (double) upWire / upRaw - 1);
        out.put("clients_hold_base", o.clientsHoldBase());
        out.put("base_checks_matched", stats.baseMatched.sum());
        out.put("base_checks_differed", stats.baseDiffered.sum());
        out.put("download_wire_bytes", downWire);
        out.put("download_raw_tensor_bytes", downRaw);
        out.put("download_wire_overhead", downRaw == 0 ? null : (double) downWire / downRaw - 1);
        double[] hb = stats.heartbeatPercentilesMs();
        out.put("heartbeats", stats.heartbeats());
        out.put("heartbeat_p50_ms", hb[0]);
        out.put("heartbeat_p99_ms", hb[1]);
        out.put("heartbeat_max_ms", hb[2]);
        // the coordinator's own view of the same calls (HeartbeatTimer): headers read to stream closed, and to the
        // handler starting; what the client saw beyond that is the simulator's side and the wire
        String scrape = probe.scrape();
        PrometheusHistogram server = PrometheusHistogram.parse(scrape, "fedlora_grpc_heartbeat_server_seconds");
        PrometheusHistogram queued = PrometheusHistogram.parse(scrape, "fedlora_grpc_heartbeat_queued_seconds");
        out.put("server_heartbeats", server.count());
        out.put("server_heartbeat_p50_ms", server.quantile(0.50) * 1000);
        out.put("server_heartbeat_p99_ms", server.quantile(0.99) * 1000);
        out.put("server_heartbeats_over_2s", server.count() - server.atMost(2.0));
        out.put("server_heartbeat_queued_p99_ms", queued.quantile(0.99) * 1000);
        out.put("updates_accepted", accepted);
        out.put("refused_calls", stats.refused());
        Map<String, Long> errors = new LinkedHashMap<>();
        stats.errors.forEach((k, v) -> errors.put(k, v.sum()));
        out.put("call_errors", errors);
        out.put("failed_clients", failed);
        out.put("failures", failures);
        out.put("work_dir", o.workDir().toString());
        JsonNode done = mapper.valueToTree(out);
        log.info("bench federation finished: {} clients, {} failed, exactness {}", o.clients(), failed, worstExact);
        return mapper.convertValue(done, Map.class);
    }
}
