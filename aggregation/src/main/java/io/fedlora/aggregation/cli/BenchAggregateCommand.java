package io.fedlora.aggregation.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraLayer;
import io.fedlora.aggregation.lora.LoraScaling;
import io.fedlora.aggregation.lora.WeightLayout;
import io.fedlora.aggregation.strategy.AggregationOptions;
import io.fedlora.aggregation.strategy.AggregationResult;
import io.fedlora.aggregation.strategy.ClientUpdate;
import io.fedlora.aggregation.strategy.FedExStrategy;
import io.fedlora.aggregation.strategy.Residual;
import io.fedlora.aggregation.strategy.RoundAggregator;
import io.fedlora.aggregation.strategy.Weighting;
import io.fedlora.cli.FedloraVersion;
import io.fedlora.cli.PositiveInteger;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.rng.Random;
import org.nd4j.linalg.factory.Nd4j;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code bench aggregate}: times one FedEx round of one layer (stream n updates in, finish, fold the residual
 * into W0) against a plain sgemm of the same M = d_out, N = d_in, K = n*r, and against the reference code's way
 * (a dense d_out x d_in product per client, then averaged). Progress goes to stderr; one JSON object is the last
 * line on stdout.
 */
@Command(name = "aggregate", mixinStandardHelpOptions = true, versionProvider = FedloraVersion.class,
        description = "Times one FedEx-LoRA round of one layer against a plain sgemm and the dense per-client way.")
final class BenchAggregateCommand implements Callable<Integer> {

    @Option(names = "--d", paramLabel = "N", defaultValue = "4096", converter = PositiveInteger.class,
            description = "d_out of the layer (default ${DEFAULT-VALUE})")
    int d;

    @Option(names = "--k", paramLabel = "N", defaultValue = "4096", converter = PositiveInteger.class,
            description = "d_in of the layer (default ${DEFAULT-VALUE})")
    int k;

    @Option(names = "--r", paramLabel = "N", defaultValue = "16", converter = PositiveInteger.class,
            description = "LoRA rank (default ${DEFAULT-VALUE})")
    int r;

    @Option(names = "--clients", paramLabel = "N", defaultValue = "10", converter = PositiveInteger.class,
            description = "client updates per round (default ${DEFAULT-VALUE})")
    int n;

    @Option(names = "--layout", paramLabel = "L", defaultValue = "linear",
            description = "linear (d_out x d_in) or conv1d (GPT-2, d_in x d_out); default ${DEFAULT-VALUE}")
    Layout layoutName;

    @Option(names = "--repeats", paramLabel = "N", defaultValue = "5", converter = PositiveInteger.class,
            description = "timed repeats; the medians are reported (default ${DEFAULT-VALUE})")
    int repeats;

    @Option(names = "--warmup", paramLabel = "N", defaultValue = "2", description = "untimed repeats first (default ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--naive-repeats", paramLabel = "N", defaultValue = "3", converter = PositiveInteger.class,
            description = "timed repeats of the dense per-client way, at most --repeats (default ${DEFAULT-VALUE})")
    int naiveRepeatsWanted;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "42", description = "seed of the random factors (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--json", description = "stdout is one JSON object only (progress stays on stderr)")
    boolean jsonOnly;

    @Spec
    CommandSpec spec;

    /** The {@code --layout} values. */
    enum Layout { linear, conv1d }

    @Override
    public Integer call() {
        if (warmup < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--warmup must be 0 or more, got " + warmup);
        }
        run(spec.commandLine().getOut(), spec.commandLine().getErr());
        return 0;
    }

    private void run(PrintWriter out, PrintWriter err) {
        WeightLayout layout = layoutName == Layout.linear ? WeightLayout.LINEAR : WeightLayout.CONV1D;
        LoraLayer layer = new LoraLayer("bench", d, k, r, layout, new LoraScaling(2.0 * r, r, false));
        Random rng = Nd4j.getRandomFactory().getNewRandomInstance(seed);
        INDArray w0 = Nd4j.rand(rng, layer.baseShape()).subi(0.5).muli(0.2).castTo(DataType.FLOAT);
        List<ClientUpdate> updates = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            INDArray a = Nd4j.rand(rng, r, k).subi(0.5).divi(Math.sqrt(k)).castTo(DataType.FLOAT);
            INDArray b = Nd4j.rand(rng, d, r).subi(0.5).muli(0.02).castTo(DataType.FLOAT);
            updates.add(new ClientUpdate("c" + i, 100L + 37L * i, Map.of("bench", new LoraFactors(a, b))));
        }
        err.printf("bench aggregate: d_out=%d d_in=%d r=%d clients=%d layout=%s repeats=%d%n", d, k, r, n, layout, repeats);

        // Exactness, measured once with the dense check (not timed).
        AggregationOptions withMetrics = AggregationOptions.defaults(Weighting.EXAMPLES, Map.of())
                .withBaseWeights(Map.of("bench", w0)).withMetrics(true);
        AggregationResult checked = aggregate(layer, updates, withMetrics);
        Residual residual = checked.residuals().get("bench");

        // Fused round and plain sgemm are interleaved, repeat by repeat, so that load on a shared machine hits both
        // alike; ratio_to_gemm is the median of the paired ratios.
        INDArray w = w0.dup('c');
        AggregationOptions timedOpts = AggregationOptions.defaults(Weighting.EXAMPLES, Map.of()).withMetrics(false);
        long inner = (long) n * r;
        INDArray u = Nd4j.rand(rng, d, inner).castTo(DataType.FLOAT);
        INDArray v = Nd4j.rand(rng, inner, k).castTo(DataType.FLOAT);
        INDArray c = Nd4j.rand(rng, d, k).castTo(DataType.FLOAT); // plain sgemm: M = d_out, N = d_in, K = n*r
        double[] fused = new double[repeats];
        double[] gemm = new double[repeats];
        double[] ratios = new double[repeats];
        for (int i = -warmup; i < repeats; i++) {
            long t0 = System.nanoTime();
            long t1;
            try (AggregationResult res = aggregate(layer, updates, timedOpts)) {
                res.residuals().get("bench").foldInto(w, layout);
                t1 = System.nanoTime();
            }
            Nd4j.gemm(u, v, c, false, false, 1.0, 1.0);
            long t2 = System.nanoTime();
            if (i >= 0) {
                fused[i] = (t1 - t0) / 1e6;
                gemm[i] = (t2 - t1) / 1e6;
                ratios[i] = gemm[i] / fused[i];
                err.printf("  repeat %d/%d: fused %.1f ms, sgemm %.1f ms%n", i + 1, repeats, fused[i], gemm[i]);
            }
        }
        double fusedMs = median(fused);
        double gemmMs = median(gemm);

        int naiveRepeats = Math.min(repeats, naiveRepeatsWanted);
        INDArray wNaive = w0.dup('c');
        double[] naive = new double[naiveRepeats];
        for (int i = -Math.min(warmup, 1); i < naiveRepeats; i++) {
            long t0 = System.nanoTime();
            naive(layer, updates, wNaive);
            if (i >= 0) {
                naive[i] = (System.nanoTime() - t0) / 1e6;
                err.printf("  naive %d/%d: %.1f ms%n", i + 1, naiveRepeats, naive[i]);
            }
        }
        double naiveMs = median(naive);

        double flops = 2.0 * d * k * inner;
        ObjectNode json = new ObjectMapper().createObjectNode();
        json.put("d_out", d).put("d_in", k).put("r", r).put("clients", n).put("layout", layout.name().toLowerCase(Locale.ROOT))
                .put("inner_dim", inner).put("repeats", repeats).put("naive_repeats", naiveRepeats)
                .put("exactness_rel_error", checked.metrics().exactnessRelError())
                .put("fedavg_deviation_rel", checked.metrics().fedavgDeviationRel())
                .put("ms", round(fusedMs)).put("gflops", round(flops / fusedMs / 1e6))
                .put("gemm_ms", round(gemmMs)).put("gemm_gflops", round(flops / gemmMs / 1e6))
                .put("ratio_to_gemm", round(median(ratios)))
                .put("naive_ms", round(naiveMs)).put("speedup_vs_naive", round(naiveMs / fusedMs))
                .put("residual_dense_bytes", residual.denseElements() * 4L)
                .put("residual_factor_bytes", residual.factorElements() * 4L)
                .put("residual_factors_smaller", residual.factorsSmallerThanDense())
                .put("backend", Nd4j.getBackend().getClass().getSimpleName())
                .put("threads", Nd4j.getEnvironment().maxMasterThreads())
                .put("cpus", Runtime.getRuntime().availableProcessors());
        if (!jsonOnly) {
            out.printf("fused FedEx %.1f ms (%.1f GFLOP/s), plain sgemm %.1f ms, naive %.1f ms%n", fusedMs,
                    flops / fusedMs / 1e6, gemmMs, naiveMs);
        }
        out.println(json);
    }

    private static AggregationResult aggregate(LoraLayer layer, List<ClientUpdate> updates, AggregationOptions opts) {
        RoundAggregator agg = new FedExStrategy().begin(List.of(layer), opts);
        updates.forEach(agg::add);
        return agg.finish();
    }

    /**
     * The reference code's way: a dense {@code B_i A_i} per client, averaged, minus {@code B'A'}, added to W0
     * (in the layer's layout, to be fair).
     */
    static void naive(LoraLayer layer, List<ClientUpdate> updates, INDArray w) {
        double total = updates.stream().mapToDouble(ClientUpdate::numExamples).sum();
        INDArray sum = Nd4j.zeros(DataType.FLOAT, layer.dOut(), layer.dIn());
        INDArray meanA = Nd4j.zeros(DataType.FLOAT, layer.rank(), layer.dIn());
        INDArray meanB = Nd4j.zeros(DataType.FLOAT, layer.dOut(), layer.rank());
        for (ClientUpdate u : updates) {
            LoraFactors f = u.factors().get(layer.module());
            double wi = u.numExamples() / total;
            INDArray product = f.b().mmul(f.a());
            sum.addi(product.muli(wi));
            meanA.addi(f.a().mul(wi));
            meanB.addi(f.b().mul(wi));
        }
        INDArray residual = sum.subi(meanB.mmul(meanA)).muli(layer.scaling().scale());
        w.addi(layer.layout() == WeightLayout.LINEAR ? residual : residual.transpose());
    }

    private static double median(double[] values) {
        double[] t = values.clone();
        Arrays.sort(t);
        int m = t.length;
        return m % 2 == 1 ? t[m / 2] : (t[m / 2 - 1] + t[m / 2]) / 2;
    }

    private static double round(double x) {
        return Math.round(x * 1000.0) / 1000.0;
    }
}
