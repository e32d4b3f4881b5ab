package io.fedlora.aggregation.cli;

import io.fedlora.aggregation.family.Gpt2Family;
import io.fedlora.aggregation.family.ModelFamilies;
import io.fedlora.aggregation.family.ModelSpec;
import io.fedlora.aggregation.family.UnsupportedModelException;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.LoraLayer;
import io.fedlora.aggregation.peft.PeftAdapter;
import io.fedlora.aggregation.peft.PeftAdapterConfig;
import io.fedlora.aggregation.peft.PeftAdapterReader;
import io.fedlora.aggregation.peft.ExportLayout;
import io.fedlora.aggregation.peft.PeftFormatException;
import io.fedlora.aggregation.safetensors.SafetensorsFormatException;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
import io.fedlora.aggregation.safetensors.TensorInfo;
import io.fedlora.aggregation.strategy.AggregationOptions;
import io.fedlora.aggregation.strategy.AggregationResult;
import io.fedlora.aggregation.strategy.AggregationStrategy;
import io.fedlora.aggregation.strategy.ClientUpdate;
import io.fedlora.aggregation.strategy.InvalidUpdateException;
import io.fedlora.aggregation.strategy.LayerMetrics;
import io.fedlora.aggregation.strategy.Residual;
import io.fedlora.aggregation.strategy.RoundAggregator;
import io.fedlora.aggregation.strategy.Strategies;
import io.fedlora.aggregation.strategy.Weighting;
import java.io.IOException;
import io.fedlora.cli.FedloraVersion;
import java.io.PrintWriter;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.nd4j.linalg.api.ndarray.INDArray;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code aggregate}: reads a frozen base ({@code .safetensors}, original keys) and several PEFT adapter directories
 * with example counts, aggregates them with the chosen strategy, and writes the export atomically (into a temp
 * directory renamed onto {@code --out} at the very end), so any error leaves {@code --out} untouched; its layout is
 * {@link ExportLayout}'s: the merged model at the top, {@code adapter/} and the folded {@code base/} below.
 */
@Command(name = "aggregate", mixinStandardHelpOptions = true, versionProvider = FedloraVersion.class,
        description = "Aggregates LoRA adapters offline into one export (merged model; adapter/ + residual-folded base/).")
final class AggregateCommand implements Callable<Integer> {

    @Option(names = "--base", required = true, paramLabel = "FILE",
            description = "the frozen base weights (.safetensors, the model's original keys)")
    Path basePath;

    @Option(names = "--update", required = true, paramLabel = "DIR[:N]", converter = UpdateArgConverter.class,
            description = "a client's PEFT adapter directory and its example count (default 1); repeat per client")
    List<UpdateArg> updates;

    @Option(names = "--strategy", paramLabel = "S", defaultValue = "fedex",
            description = "fedex (exact), fedit (plain FedAvg) or ffa (frozen A); default ${DEFAULT-VALUE}")
    String strategyName;

    @Option(names = "--uniform", description = "weight clients equally instead of by example count")
    boolean uniform;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "new or empty output directory")
    Path outPath;

    @Spec
    CommandSpec spec;

    /** One {@code --update DIR[:N]}. */
    record UpdateArg(Path dir, long examples) {
        static UpdateArg parse(String s) {
            int colon = s.lastIndexOf(':');
            if (colon > 0 && colon < s.length() - 1 && s.substring(colon + 1).chars().allMatch(Character::isDigit)) {
                long n;
                try {
                    n = Long.parseLong(s.substring(colon + 1));
                } catch (NumberFormatException e) {
                    throw new CommandLine.TypeConversionException("example count is not a number");
                }
                if (n <= 0) {
                    throw new CommandLine.TypeConversionException("example count must be positive");
                }
                return new UpdateArg(Path.of(s.substring(0, colon)), n);
            }
            return new UpdateArg(Path.of(s), 1);
        }
    }

    /** {@code DIR[:N]} to an {@link UpdateArg}. */
    static final class UpdateArgConverter implements CommandLine.ITypeConverter<UpdateArg> {
        @Override
        public UpdateArg convert(String value) {
            return UpdateArg.parse(value);
        }
    }

    @Override
    public Integer call() throws IOException {
        run(spec.commandLine().getOut(), spec.commandLine().getErr());
        return 0;
    }

    private void run(PrintWriter out, PrintWriter err) throws IOException {
        Path outDir = outPath.toAbsolutePath().normalize();
        java.util.Set<Path> seen = new java.util.HashSet<>();
        for (UpdateArg u : updates) {
            if (!seen.add(u.dir().toAbsolutePath().normalize())) {
                throw new CliException("--update " + u.dir() + " is given twice: each adapter directory is one client's"
                        + " update and counts once (weight a client by its example count, DIR:N)");
            }
        }
        AggregationStrategy strategy;
        try {
            strategy = Strategies.byName(strategyName);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "Invalid value for option '--strategy': " + e.getMessage());
        }
        Weighting weighting = uniform ? Weighting.UNIFORM : Weighting.EXAMPLES;
        checkOutputFree(outDir);
        if (!Files.isRegularFile(basePath)) {
            throw new CliException("--base " + basePath + ": no such file");
        }

        try (SafetensorsReader base = SafetensorsReader.open(basePath)) {
            // Adapters are read one at a time and streamed into the aggregator; only the first stays as reference.
            PeftAdapter first = readAdapter(updates.get(0));
            List<LoraLayer> layers = first.layers();
            checkLayoutsAgainstFamily(basePath.toAbsolutePath().getParent(), layers, updates.get(0).dir(), err);
            Map<String, String> baseKeys = new LinkedHashMap<>();
            Map<String, INDArray> baseWeights = new LinkedHashMap<>();
            for (LoraLayer layer : layers) {
                String key = baseKey(base, layer);
                TensorInfo info = base.info(key);
                if (!info.dtype().isFloatingPoint()) {
                    throw new CliException(basePath + ": '" + key + "' has dtype " + info.dtype() + ", not a float weight");
                }
                if (!Arrays.equals(info.shape(), layer.baseShape())) {
                    throw new CliException(basePath + ": '" + key + "' has shape " + Arrays.toString(info.shape())
                            + " but the adapters' " + layer.layout() + " layer (fan_in_fan_out="
                            + layer.layout().fanInFanOut() + ", d_out=" + layer.dOut() + ", d_in=" + layer.dIn()
                            + ") needs " + Arrays.toString(layer.baseShape()));
                }
                if (strategy.name().equals("fedex") && (info.dtype() == io.fedlora.aggregation.safetensors.DType.BF16
                        || info.dtype() == io.fedlora.aggregation.safetensors.DType.F16)) {
                    err.println("warning: " + basePath + ": '" + key + "' is " + info.dtype() + "; the folded residual is"
                            + " stored back in " + info.dtype() + ", which rounds away part of it (the exactness"
                            + " printed below is before that rounding)");
                }
                baseKeys.put(layer.module(), key);
                baseWeights.put(layer.module(), base.readFloat(key));
            }

            AggregationOptions options = AggregationOptions.defaults(weighting, Map.of()).withBaseWeights(baseWeights);
            RoundAggregator agg = strategy.begin(layers, options);
            long start = System.nanoTime();
            for (int i = 0; i < updates.size(); i++) {
                UpdateArg u = updates.get(i);
                PeftAdapter adapter = i == 0 ? first : readAdapter(u);
                if (i > 0) {
                    checkCompatible(updates.get(0).dir(), first, u.dir(), adapter);
                }
                try {
                    agg.add(new ClientUpdate(u.dir().toString(), u.examples(), adapter.factors()));
                } catch (InvalidUpdateException e) {
                    throw new CliException(u.dir() + ": " + e.getMessage());
                }
            }
            AggregationResult result = agg.finish();
            double ms = (System.nanoTime() - start) / 1e6;

            Map<String, INDArray> replaced = new LinkedHashMap<>();
            for (Map.Entry<String, Residual> e : result.residuals().entrySet()) {
                INDArray w = baseWeights.get(e.getKey());
                e.getValue().foldInto(w, first.config().layout());
                replaced.put(baseKeys.get(e.getKey()), w);
            }
            // no base_model_name_or_path: the clients' adapters name the original base, which lacks the folded residual,
            // so AutoPeftModelForCausalLM would load a different model without a word; the output itself is the base
            PeftAdapterConfig cfg = new PeftAdapterConfig(first.config().r(), first.config().loraAlpha(),
                    first.config().targetModules(), first.config().fanInFanOut(), first.config().useRslora(), null);
            Map<String, io.fedlora.aggregation.lora.WeightLayout> layouts = new LinkedHashMap<>();
            layers.forEach(l -> layouts.put(l.module(), l.layout()));
            Path modelDir = basePath.toAbsolutePath().getParent();
            Map<String, Path> modelFiles = modelFiles(modelDir);
            writeAtomically(outDir, tmp -> {
                ExportLayout.writeWeights(tmp, cfg, result.global(), first.transformerPrefix() ? Gpt2Family.BODY_PREFIX : "",
                        baseKeys, layouts, first.config().scaling().scale(), base, replaced);
                ExportLayout.writeModelFiles(tmp, modelFiles);
            });
            if (!modelFiles.containsKey(CONFIG_FILE)) {
                err.println("warning: no " + CONFIG_FILE + " next to " + basePath + ": the export cannot be loaded with"
                        + " from_pretrained until you add the base model's config.json (and tokenizer files) to "
                        + outDir + " and a generation_config.json to " + outDir.resolve(ExportLayout.BASE_DIR));
            }
            printSummary(out, strategy.name(), weighting, updates, layers, result, ms, outDir);
        } catch (PeftFormatException | SafetensorsFormatException e) {
            throw new CliException(e.getMessage());
        }
    }

    private static final String CONFIG_FILE = "config.json";
    /** The files of an HF model directory besides the weights that from_pretrained and the tokenizer read. */
    private static final List<String> MODEL_FILES = List.of(CONFIG_FILE, "generation_config.json", "tokenizer.json",
            "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "tokenizer.model");

    /** The model directory's config and tokenizer files that exist, by name; the export's top level gets them. */
    private static Map<String, Path> modelFiles(Path modelDir) {
        Map<String, Path> files = new LinkedHashMap<>();
        for (String name : MODEL_FILES) {
            Path src = modelDir.resolve(name);
            if (Files.isRegularFile(src)) {
                files.put(name, src);
            }
        }
        return files;
    }

    /**
     * PEFT's {@code fan_in_fan_out} gives the adapters' layout; where the base directory has a {@code config.json} of a
     * supported family, that family's description of each module must agree, since a square weight folded in the
     * wrong layout fits every shape check and gives another model.
     */
    private static void checkLayoutsAgainstFamily(Path modelDir, List<LoraLayer> layers, Path adapterDir, PrintWriter err) {
        if (!Files.isRegularFile(modelDir.resolve(CONFIG_FILE))) {
            return;
        }
        ModelSpec spec;
        try {
            spec = ModelFamilies.read(modelDir);
        } catch (UnsupportedModelException e) {
            err.println("warning: " + modelDir.resolve(CONFIG_FILE) + " is not a model family fedlora knows (" + e.getMessage()
                    + "): the adapters' fan_in_fan_out alone decides the layout the residual is folded in");
            return;
        }
        Map<String, io.fedlora.aggregation.lora.WeightLayout> family = new LinkedHashMap<>();
        spec.adaptableModules().forEach(m -> family.put(m.name(), m.layout()));
        for (LoraLayer layer : layers) {
            io.fedlora.aggregation.lora.WeightLayout want = family.get(layer.module());
            if (want != null && want != layer.layout()) {
                throw new CliException(adapterDir + ": adapter_config.json has fan_in_fan_out=" + layer.layout().fanInFanOut()
                        + " (" + layer.layout() + ") but the base model's " + spec.family() + " family stores " + layer.module()
                        + " as " + want + " (fan_in_fan_out=" + want.fanInFanOut() + ")");
            }
        }
    }

    private static PeftAdapter readAdapter(UpdateArg u) throws IOException {
        if (!Files.isDirectory(u.dir())) {
            throw new CliException("--update " + u.dir() + ": no such directory");
        }
        return PeftAdapterReader.read(u.dir());
    }

    private static String baseKey(SafetensorsReader base, LoraLayer layer) {
        String plain = layer.baseKey();
        String prefixed = Gpt2Family.BODY_PREFIX + plain;
        if (base.tensors().containsKey(plain)) {
            return plain;
        }
        if (base.tensors().containsKey(prefixed)) {
            return prefixed;
        }
        throw new CliException(base.file() + ": missing base weight '" + plain + "' (nor '" + prefixed + "') for module "
                + layer.module());
    }

    private static void checkCompatible(Path refDir, PeftAdapter ref, Path dir, PeftAdapter other) {
        PeftAdapterConfig a = ref.config();
        PeftAdapterConfig b = other.config();
        Path cfg = dir.resolve(PeftAdapterConfig.FILE_NAME);
        if (a.r() != b.r()) {
            throw new CliException(cfg + ": 'r' is " + b.r() + " but " + refDir + " has " + a.r());
        }
        if (a.loraAlpha() != b.loraAlpha()) {
            throw new CliException(cfg + ": 'lora_alpha' is " + b.loraAlpha() + " but " + refDir + " has " + a.loraAlpha());
        }
        if (a.useRslora() != b.useRslora()) {
            throw new CliException(cfg + ": 'use_rslora' is " + b.useRslora() + " but " + refDir + " has " + a.useRslora());
        }
        if (a.fanInFanOut() != b.fanInFanOut()) {
            throw new CliException(cfg + ": 'fan_in_fan_out' is " + b.fanInFanOut() + " but " + refDir + " has "
                    + a.fanInFanOut());
        }
        if (!a.targetModules().equals(b.targetModules())) {
            throw new CliException(cfg + ": 'target_modules' " + b.targetModules() + " differ from " + refDir + "'s "
                    + a.targetModules());
        }
        Path weights = dir.resolve(PeftAdapterReader.WEIGHTS_FILE);
        Set<String> missing = new TreeSet<>(ref.factors().keySet());
        missing.removeAll(other.factors().keySet());
        if (!missing.isEmpty()) {
            throw new CliException(weights + ": missing key '" + PeftAdapter.peftKey(missing.iterator().next(), "lora_A",
                    other.transformerPrefix()) + "' (present in " + refDir + ")");
        }
        Set<String> extra = new TreeSet<>(other.factors().keySet());
        extra.removeAll(ref.factors().keySet());
        if (!extra.isEmpty()) {
            throw new CliException(weights + ": key '" + PeftAdapter.peftKey(extra.iterator().next(), "lora_A",
                    other.transformerPrefix()) + "' is not in " + refDir);
        }
        for (Map.Entry<String, LoraFactors> e : ref.factors().entrySet()) {
            LoraFactors x = e.getValue();
            LoraFactors y = other.factors().get(e.getKey());
            for (String f : List.of("lora_A", "lora_B")) {
                long[] sx = f.equals("lora_A") ? x.a().shape() : x.b().shape();
                long[] sy = f.equals("lora_A") ? y.a().shape() : y.b().shape();
                if (!Arrays.equals(sx, sy)) {
                    throw new CliException(weights + ": '" + PeftAdapter.peftKey(e.getKey(), f, other.transformerPrefix())
                            + "' has shape " + Arrays.toString(sy) + " but " + refDir + " has " + Arrays.toString(sx));
                }
            }
        }
    }

    private static void checkOutputFree(Path outDir) throws IOException {
        if (Files.exists(outDir)) {
            if (!Files.isDirectory(outDir)) {
                throw new CliException("--out " + outDir + " exists and is not a directory");
            }
            try (Stream<Path> s = Files.list(outDir)) {
                if (s.findAny().isPresent()) {
                    throw new CliException("--out " + outDir + " exists and is not empty");
                }
            }
        }
    }

    interface Export {
        void into(Path dir) throws IOException;
    }

    /** Writes into a sibling temp directory, then renames it onto {@code outDir}; on failure removes the temp dir. */
    static void writeAtomically(Path outDir, Export export) throws IOException {
        Path parent = outDir.getParent();
        Files.createDirectories(parent);
        Path tmp = Files.createTempDirectory(parent, "." + outDir.getFileName() + ".tmp");
        try {
            export.into(tmp);
            checkOutputFree(outDir);
            Files.deleteIfExists(outDir); // only an empty directory can be here
            try {
                Files.move(tmp, outDir, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, outDir);
            }
            SafetensorsWriter.fsyncDirectory(parent);
        } catch (IOException | RuntimeException e) {
            deleteTree(tmp);
            throw e;
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static void printSummary(PrintWriter out, String strategy, Weighting weighting, List<UpdateArg> updates, List<LoraLayer> layers,
                              AggregationResult result, double ms, Path outDir) {
        out.printf("strategy %s, weighting %s, %d clients, %d layers, aggregated in %.1f ms%n", strategy,
                weighting.name().toLowerCase(), updates.size(), layers.size(), ms);
        for (UpdateArg u : updates) {
            out.printf("  client %s: %d examples%n", u.dir(), u.examples());
        }
        out.printf("%-32s %-7s %-14s %-16s %-18s %s%n", "layer", "layout", "d_out x d_in", "exactness_error",
                "fedavg_deviation", "residual");
        for (LoraLayer l : layers) {
            LayerMetrics m = result.metrics().perLayer().get(l.module());
            Residual r = result.residuals().get(l.module());
            String res = r == null ? "-" : r.hasFactors()
                    ? "rank<=" + r.innerDim() + (r.factorsSmallerThanDense() ? " (factors smaller)" : " (dense smaller)")
                    : "dense";
            out.printf("%-32s %-7s %-14s %-16.3e %-18.3e %s%n", l.module(), l.layout(), l.dOut() + "x" + l.dIn(),
                    m.exactnessRelError(), m.fedavgDeviationRel(), res);
        }
        out.printf("overall: exactness_rel_error %.3e, fedavg_deviation_rel %.3e%n",
                result.metrics().exactnessRelError(), result.metrics().fedavgDeviationRel());
        out.printf("wrote %s (%s: the merged federated model; %s, %s: the PEFT adapter and the residual-folded base it"
                + " belongs on)%n", outDir, ExportLayout.MERGED_ENTRY, ExportLayout.ADAPTER_DIR + "/",
                ExportLayout.BASE_DIR + "/");
    }
}
