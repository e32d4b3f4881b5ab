package io.fedlora.aggregation.hf;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.aggregation.cli.AggregationCli;
import io.fedlora.aggregation.family.Checkpoint;
import io.fedlora.aggregation.peft.PeftAdapterConfig;
import io.fedlora.aggregation.peft.PeftAdapterReader;
import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
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
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The README's loading code, run by real transformers and PEFT on a real {@code aggregate} export of each family's
 * HF fixture: two clients (the fixture's own adapter and a perturbed copy, 3:1 examples, so FedEx folds a non-zero
 * residual), then {@code load_export.py}, which loads the export every way a user might and compares each loss with
 * one computed outside the export (the fixture's model plus {@code Σ w_i·s·B_i A_i} added by hand). Needs a Python
 * with torch, transformers and peft: {@code FEDLORA_HF_PYTHON}, else {@code /work/pyenv/bin/python}; skipped with
 * the reason when there is none (CI has no PyTorch).
 */
class HfExportLoadingTest {

    private static final Path FIXTURES = ReadmeHfSnippetTest.ROOT.resolve("client-agent/src/test/resources/hf-fixtures");
    private static final Pattern LOSS = Pattern.compile("^(.+?)\\s+loss (-?[0-9.]+)\\s*$", Pattern.MULTILINE);
    private static String python;
    /** Why the test cannot run here, or null; each test is skipped with it (an assumption in @BeforeAll shows none). */
    private static String missing;

    @TempDir
    Path dir;

    @BeforeAll
    static void findPython() throws InterruptedException {
        String env = System.getenv("FEDLORA_HF_PYTHON");
        String candidate = env != null && !env.isBlank() ? env : "/work/pyenv/bin/python";
        String reason;
        try {
            Process p = new ProcessBuilder(candidate, "-c", "import torch, transformers, peft, safetensors")
                    .redirectErrorStream(true).start();
            boolean done = p.waitFor(120, TimeUnit.SECONDS);
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            reason = !done ? "timed out importing torch" : p.exitValue() == 0 ? null : out;
            if (!done) {
                p.destroyForcibly();
            }
        } catch (IOException e) {
            reason = e.getMessage();
        }
        python = candidate;
        missing = reason == null ? null : "no Python with torch, transformers and peft at " + candidate
                + " (set FEDLORA_HF_PYTHON): " + reason;
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2-tied", "llama-gqa-untied", "qwen2-bias-tied"})
    void everyDocumentedPathGivesTheFederatedModelAndNoOtherLoads(String family) throws Exception {
        Assumptions.assumeTrue(missing == null, missing);
        Path fixture = FIXTURES.resolve(family);
        // aggregate takes one weights file: a sharded fixture is joined into one, the rest copied as HF saved it
        Path model = Files.createDirectories(dir.resolve("model"));
        try (Checkpoint c = Checkpoint.open(fixture)) {
            c.writeSingleFile(model.resolve("model.safetensors"));
        }
        for (String f : List.of("config.json", "tokenizer.json")) {
            Files.copy(fixture.resolve(f), model.resolve(f));
        }
        Path own = fixture.resolve("adapter");
        Path other = perturbed(own, dir.resolve("client-2"));
        Path export = dir.resolve("export");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = new AggregationCli(new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8)).run(new String[] {"aggregate", "--base",
                model.resolve("model.safetensors").toString(), "--update", own + ":3", "--update", other + ":1",
                "--out", export.toString()});
        assertThat(code).as(out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8)).isZero();

        ProcessBuilder pb = new ProcessBuilder(python, ReadmeHfSnippetTest.SCRIPT.toString(), export.toString(),
                fixture.toString(), own + ":3", other + ":1").redirectErrorStream(true);
        pb.environment().put("HF_HUB_OFFLINE", "1"); // a path that must fail may not wait on the network instead
        pb.environment().put("TRANSFORMERS_OFFLINE", "1");
        pb.environment().put("TQDM_DISABLE", "1");
        Process p = pb.start();
        byte[] bytes = p.getInputStream().readAllBytes();
        assertThat(p.waitFor(300, TimeUnit.SECONDS)).isTrue();
        String text = new String(bytes, StandardCharsets.UTF_8);
        System.out.println("load_export.py on " + family + ":\n" + text);
        assertThat(p.exitValue()).as(text).isZero();
        Map<String, Double> losses = new LinkedHashMap<>();
        for (Matcher m = LOSS.matcher(text); m.find(); ) {
            losses.put(m.group(1).trim(), Double.parseDouble(m.group(2)));
        }
        assertThat(losses).containsKeys("from_pretrained(export)", "PeftModel(from_pretrained(base/), adapter/)",
                "from_pretrained(export), peft not importable", "expected (outside the export)");
        double expected = losses.get("expected (outside the export)");
        losses.forEach((path, loss) -> assertThat(loss).as(path).isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-4)));
        assertThat(text.lines().filter(l -> l.contains(" fails: ")).count()).as(text).isEqualTo(7);
        assertThat(text).contains("OK: every documented path").doesNotContain("DIFFERENT MODEL", "must fail");
        // FedEx folded a residual: base/ is not the original base, so an adapter on the original would be wrong
        try (SafetensorsReader original = SafetensorsReader.open(model.resolve("model.safetensors"));
             SafetensorsReader folded = SafetensorsReader.open(export.resolve("base/model.safetensors"))) {
            assertThat(original.tensors().keySet().stream()
                    .filter(k -> original.readFloat(k).distance2(folded.readFloat(k)) > 1e-4).count())
                    .as("weights with a folded residual").isPositive();
        }
    }

    /** A second client's adapter: the fixture's, every factor moved by 0.1·N(0,1) (seeded). */
    private static Path perturbed(Path adapter, Path to) throws IOException {
        Files.createDirectories(to);
        Files.copy(adapter.resolve(PeftAdapterConfig.FILE_NAME), to.resolve(PeftAdapterConfig.FILE_NAME));
        SplittableRandom random = new SplittableRandom(7);
        Map<String, INDArray> tensors = new LinkedHashMap<>();
        try (SafetensorsReader r = SafetensorsReader.open(adapter.resolve(PeftAdapterReader.WEIGHTS_FILE))) {
            for (String key : new ArrayList<>(r.tensors().keySet())) {
                INDArray t = r.readFloat(key).dup('c');
                float[] v = t.data().asFloat();
                for (int i = 0; i < v.length; i++) {
                    v[i] += (float) (0.1 * gaussian(random));
                }
                tensors.put(key, Nd4j.create(v, t.shape(), 'c'));
            }
        }
        SafetensorsWriter.write(to.resolve(PeftAdapterReader.WEIGHTS_FILE), tensors, Map.of("format", "pt"), DType.F32);
        return to;
    }

    private static double gaussian(SplittableRandom r) {
        return Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
    }
}
