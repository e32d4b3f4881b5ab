package io.fedlora.aggregation.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.peft.PeftAdapterConfig;
import io.fedlora.aggregation.peft.PeftExporter;
import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
import io.fedlora.aggregation.safetensors.TensorData;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.factory.Nd4j;

/** {@code aggregate} end to end on temp dirs: a GPT-2 style (Conv1D, {@code transformer.} keys) base and 3 adapters. */
class AggregateCliTest {

    private static final int D_IN = 8;
    private static final Map<String, Integer> D_OUT = Map.of("h.0.attn.c_attn", 24, "h.0.attn.c_proj", 8);
    private static final int R = 2;
    private static final double ALPHA = 4;

    @TempDir
    Path dir;
    Path base;
    final List<Path> adapters = new ArrayList<>();
    final List<Map<String, float[][][]>> factors = new ArrayList<>(); // module -> {A, B}
    final Random rnd = new Random(5);
    String stdout;
    String stderr;

    @BeforeEach
    void setUp() throws IOException {
        base = dir.resolve("base.safetensors");
        List<TensorData> t = new ArrayList<>();
        t.add(TensorData.of("transformer.wte.weight", Nd4j.create(random(10, D_IN)), DType.F32));
        for (String m : D_OUT.keySet()) {
            t.add(TensorData.of("transformer." + m + ".weight", Nd4j.create(random(D_IN, D_OUT.get(m))), DType.F32));
        }
        SafetensorsWriter.write(base, t, Map.of("format", "pt"));
        for (int i = 0; i < 3; i++) {
            Map<String, float[][][]> f = new LinkedHashMap<>();
            for (String m : D_OUT.keySet()) {
                f.put(m, new float[][][] {random(R, D_IN), random(D_OUT.get(m), R)});
            }
            factors.add(f);
            adapters.add(writeAdapter("client" + i, f, R, List.of("c_attn", "c_proj"), true));
        }
    }

    private float[][] random(int rows, int cols) {
        float[][] m = new float[rows][cols];
        for (float[] row : m) {
            for (int j = 0; j < cols; j++) {
                row[j] = (float) rnd.nextGaussian();
            }
        }
        return m;
    }

    private Path writeAdapter(String name, Map<String, float[][][]> f, int r, List<String> targets, boolean fanInFanOut)
            throws IOException {
        return writeAdapter(name, f, r, targets, fanInFanOut, "transformer.");
    }

    /** PEFT keys under {@code bodyPrefix} ({@code transformer.} for GPT-2, empty for Llama's {@code model.*} names). */
    private Path writeAdapter(String name, Map<String, float[][][]> f, int r, List<String> targets, boolean fanInFanOut,
                              String bodyPrefix) throws IOException {
        Map<String, LoraFactors> lf = new LinkedHashMap<>();
        f.forEach((m, ab) -> lf.put(m, new LoraFactors(Nd4j.create(ab[0]), Nd4j.create(ab[1]))));
        Path p = dir.resolve(name);
        PeftExporter.exportAdapter(p, new PeftAdapterConfig(r, ALPHA, targets, fanInFanOut, false, "tiny"), lf, bodyPrefix);
        return p;
    }

    private int run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = new AggregationCli(new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8)).run(args);
        stdout = out.toString(StandardCharsets.UTF_8);
        stderr = err.toString(StandardCharsets.UTF_8);
        return code;
    }

    private String[] args(String strategy, Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of("aggregate", "--base", base.toString(), "--strategy", strategy,
                "--out", out.toString()));
        long[] counts = {10, 30, 60};
        for (int i = 0; i < adapters.size(); i++) {
            a.add("--update");
            a.add(adapters.get(i) + ":" + counts[i]);
        }
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    @Test
    void fedexExportIsTheExactWeightedAverage() throws IOException {
        Path out = dir.resolve("out");
        assertThat(run(args("fedex", out))).as(stderr).isZero();
        assertThat(stdout).contains("h.0.attn.c_attn").contains("overall: exactness_rel_error");
        // the layout of ExportLayout: merged model on top, no adapter there; adapter/ and base/ below
        assertThat(out.resolve("adapter_config.json")).doesNotExist();
        assertThat(out.resolve("adapter/adapter_config.json")).exists();
        // the clients' adapters name base "tiny", the unfolded model: the export must not send PEFT back to it
        assertThat(PeftAdapterConfig.read(adapters.get(0).resolve("adapter_config.json")).baseModelNameOrPath()).isEqualTo("tiny");
        assertThat(new com.fasterxml.jackson.databind.ObjectMapper().readTree(out.resolve("adapter/adapter_config.json")
                .toFile()).get("base_model_name_or_path").isNull()).isTrue();
        assertThat(out.resolve("adapter/adapter_model.safetensors")).exists();
        assertThat(out.resolve("base/model.safetensors")).exists();
        assertThat(out.resolve("model.safetensors")).exists();
        assertThat(out.resolve("merged")).doesNotExist();
        try (var s = Files.list(dir)) {
            assertThat(s.filter(p -> p.getFileName().toString().contains(".tmp")).toList()).isEmpty();
        }
        assertThat(relErrorOfExport(out, new double[] {0.1, 0.3, 0.6})).isLessThan(1e-5);
        assertThat(relErrorOfMerged(out, new double[] {0.1, 0.3, 0.6})).isLessThan(1e-5);
    }

    @Test
    void uniformWeightingAndFeditDiffer() throws IOException {
        Path uniform = dir.resolve("uniform");
        assertThat(run(args("fedex", uniform, "--uniform"))).as(stderr).isZero();
        assertThat(relErrorOfExport(uniform, new double[] {1 / 3.0, 1 / 3.0, 1 / 3.0})).isLessThan(1e-5);
        Path fedit = dir.resolve("fedit");
        assertThat(run(args("fedit", fedit))).as(stderr).isZero();
        assertThat(relErrorOfExport(fedit, new double[] {0.1, 0.3, 0.6})).isGreaterThan(1e-3);
    }

    /** Loads the export's base/ and adapter/ and compares W0' + s (B'A')^T with sum w_i (W0 + s (B_i A_i)^T), in double. */
    private double relErrorOfExport(Path out, double[] w) throws IOException {
        return relError(out, w, false);
    }

    /** The same for the export's top-level merged weights, read alone. */
    private double relErrorOfMerged(Path out, double[] w) throws IOException {
        return relError(out, w, true);
    }

    private double relError(Path out, double[] w, boolean merged) throws IOException {
        double s = ALPHA / R;
        double num = 0;
        double den = 0;
        try (SafetensorsReader model = SafetensorsReader.open(merged ? out.resolve("model.safetensors")
                     : out.resolve("base/model.safetensors"));
             SafetensorsReader adapter = SafetensorsReader.open(out.resolve("adapter/adapter_model.safetensors"));
             SafetensorsReader orig = SafetensorsReader.open(base)) {
            for (String m : D_OUT.keySet()) {
                float[][] w0 = orig.readFloat("transformer." + m + ".weight").toFloatMatrix();
                float[][] weights = model.readFloat("transformer." + m + ".weight").toFloatMatrix();
                float[][] a = adapter.readFloat("base_model.model.transformer." + m + ".lora_A.weight").toFloatMatrix();
                float[][] b = adapter.readFloat("base_model.model.transformer." + m + ".lora_B.weight").toFloatMatrix();
                for (int in = 0; in < D_IN; in++) {
                    for (int o = 0; o < D_OUT.get(m); o++) {
                        double want = w0[in][o];
                        for (int i = 0; i < w.length; i++) {
                            float[][][] f = factors.get(i).get(m);
                            want += w[i] * s * dot(f[1][o], f[0], in);
                        }
                        double got = merged ? weights[in][o] : weights[in][o] + s * dot(b[o], a, in);
                        num += (got - want) * (got - want);
                        den += want * want;
                    }
                }
            }
        }
        return Math.sqrt(num / den);
    }

    private static double dot(float[] bRow, float[][] a, int col) {
        double acc = 0;
        for (int k = 0; k < bRow.length; k++) {
            acc += (double) bRow[k] * a[k][col];
        }
        return acc;
    }

    private void assertFails(Path out, String... fragments) {
        int code = run(args("fedex", out));
        assertThat(code).as(stdout + stderr).isEqualTo(2);
        for (String f : fragments) {
            assertThat(stderr).contains(f);
        }
        assertThat(out).doesNotExist();
        try (var s = Files.list(dir)) {
            assertThat(s.filter(p -> p.getFileName().toString().contains(".tmp")).toList()).isEmpty();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void mismatchedRankIsRejected() throws IOException {
        Map<String, float[][][]> f = new LinkedHashMap<>();
        D_OUT.forEach((m, d) -> f.put(m, new float[][][] {random(4, D_IN), random(d, 4)}));
        adapters.set(1, writeAdapter("rank4", f, 4, List.of("c_attn", "c_proj"), true));
        assertFails(dir.resolve("out"), "rank4", "adapter_config.json", "'r'");
    }

    @Test
    void theSameAdapterTwiceIsRejectedAsSuch() {
        adapters.set(2, adapters.get(0));
        assertFails(dir.resolve("out"), "is given twice", adapters.get(0).getFileName().toString());
    }

    @Test
    void mismatchedTargetsAreRejected() throws IOException {
        adapters.set(2, writeAdapter("targets", factors.get(2), R, List.of("c_attn"), true));
        assertFails(dir.resolve("out"), "targets", "target_modules");
    }

    @Test
    void mismatchedShapesAreRejected() throws IOException {
        Map<String, float[][][]> f = new LinkedHashMap<>(factors.get(1));
        f.put("h.0.attn.c_proj", new float[][][] {random(R, D_IN), random(9, R)});
        adapters.set(1, writeAdapter("shape", f, R, List.of("c_attn", "c_proj"), true));
        assertFails(dir.resolve("out"), "shape", "base_model.model.transformer.h.0.attn.c_proj.lora_B.weight");
    }

    @Test
    void missingAdapterKeyIsRejected() throws IOException {
        Map<String, float[][][]> f = new LinkedHashMap<>(factors.get(1));
        f.remove("h.0.attn.c_proj");
        adapters.set(1, writeAdapter("missing", f, R, List.of("c_attn", "c_proj"), true));
        assertFails(dir.resolve("out"), "missing", "h.0.attn.c_proj.lora_A.weight");
    }

    @Test
    void missingBaseKeyIsRejected() throws IOException {
        SafetensorsWriter.write(base, List.of(TensorData.of("transformer.h.0.attn.c_attn.weight",
                Nd4j.create(random(D_IN, 24)), DType.F32)), Map.of());
        assertFails(dir.resolve("out"), base.toString(), "h.0.attn.c_proj.weight");
    }

    @Test
    void baseThatDoesNotFitIsRejected() throws IOException {
        // Adapters say nn.Linear (fan_in_fan_out=false) but the base is GPT-2 Conv1D: d_in x d_out.
        for (int i = 0; i < adapters.size(); i++) {
            adapters.set(i, writeAdapter("linear" + i, factors.get(i), R, List.of("c_attn", "c_proj"), false));
        }
        assertFails(dir.resolve("out"), base.toString(), "transformer.h.0.attn.c_attn.weight", "fan_in_fan_out=false");
    }

    @Test
    void adaptersWhoseLayoutContradictsTheBaseFamilyAreRejected() throws IOException {
        // a Llama base (nn.Linear) whose q_proj is square 8 x 8: fan_in_fan_out=true fits every shape, yet is wrong
        Path llama = Files.createDirectories(dir.resolve("llama"));
        Files.writeString(llama.resolve("config.json"), """
                {"model_type": "llama", "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1,
                 "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 10, "max_position_embeddings": 16}""");
        String q = "model.layers.0.self_attn.q_proj";
        SafetensorsWriter.write(llama.resolve("model.safetensors"), List.of(TensorData.of(q + ".weight",
                Nd4j.create(random(8, 8)), DType.F32)), Map.of("format", "pt"));
        List<Path> conv = new ArrayList<>();
        List<Path> linear = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Map<String, float[][][]> f = Map.of(q, new float[][][] {random(R, 8), random(8, R)});
            conv.add(writeAdapter("conv" + i, f, R, List.of("q_proj"), true, ""));
            linear.add(writeAdapter("lin" + i, f, R, List.of("q_proj"), false, ""));
        }
        Path out = dir.resolve("out-llama");
        assertThat(run("aggregate", "--base", llama.resolve("model.safetensors").toString(), "--strategy", "fedex",
                "--out", out.toString(), "--update", conv.get(0).toString(), "--update", conv.get(1).toString()))
                .as(stdout + stderr).isEqualTo(2);
        assertThat(stderr).contains("fan_in_fan_out=true (CONV1D)").contains("llama family stores " + q + " as LINEAR");
        assertThat(out).doesNotExist();
        assertThat(run("aggregate", "--base", llama.resolve("model.safetensors").toString(), "--strategy", "fedex",
                "--out", out.toString(), "--update", linear.get(0).toString(), "--update", linear.get(1).toString()))
                .as(stdout + stderr).isZero();
        assertThat(out.resolve("config.json")).exists();
        // base/ must not load alone as a model (it would be the base without its adapter); transformers needs this
        assertThat(out.resolve("base/config.json")).doesNotExist();
        assertThat(new com.fasterxml.jackson.databind.ObjectMapper().readTree(out.resolve("base/generation_config.json")
                .toFile()).fieldNames()).toIterable().isEmpty(); // the config names no token ids
    }

    @Test
    void ffaWithDifferentAIsRejected() {
        Path out = dir.resolve("out");
        assertThat(run(args("ffa", out))).isEqualTo(2);
        assertThat(stderr).contains("frozen A").contains("client1");
        assertThat(out).doesNotExist();
    }

    @Test
    void corruptAdapterAndBusyOutputAreRejected() throws IOException {
        Files.write(adapters.get(0).resolve("adapter_model.safetensors"), new byte[] {9, 0, 0, 0, 0, 0, 0, 0, '{'});
        assertFails(dir.resolve("out"), "client0", "adapter_model.safetensors");
        adapters.set(0, writeAdapter("client0", factors.get(0), R, List.of("c_attn", "c_proj"), true));
        Path busy = dir.resolve("busy");
        Files.createDirectories(busy);
        Files.writeString(busy.resolve("keep.txt"), "x");
        assertThat(run(args("fedex", busy))).isEqualTo(2);
        assertThat(stderr).contains("not empty");
        assertThat(busy.resolve("keep.txt")).exists();
        assertThat(run("aggregate", "--base", base.toString())).isEqualTo(2);
        assertThat(run("frobnicate")).isEqualTo(2);
    }

    @Test
    void benchJsonIsTheWholeOfStdout() throws IOException {
        assertThat(run("bench", "aggregate", "--d", "48", "--k", "32", "--r", "2", "--clients", "3", "--repeats", "1",
                "--warmup", "0", "--layout", "conv1d", "--json")).as(stderr).isZero();
        // stdout is exactly one JSON document, as `| jq .` needs; progress went to stderr
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(stdout);
        assertThat(json.isObject()).isTrue();
        assertThat(stdout.strip()).doesNotContain("\n");
        assertThat(json.path("layout").asText()).isEqualTo("conv1d");
        assertThat(json.has("exactness_rel_error") && json.has("ratio_to_gemm") && json.has("naive_ms")
                && json.has("residual_factor_bytes")).isTrue();
        assertThat(stderr).contains("bench aggregate: d_out=48");
    }
}
