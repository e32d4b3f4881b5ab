package io.fedlora.coordinator.model;

import io.fedlora.aggregation.family.ModelFamilies;
import io.fedlora.aggregation.family.ModelSpec;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.WeightLayout;
import io.fedlora.aggregation.peft.PeftAdapterConfig;
import io.fedlora.aggregation.peft.ExportLayout;
import io.fedlora.aggregation.peft.ReplacedWeights;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.coordinator.blob.BlobStore;
import io.fedlora.coordinator.config.FedloraProperties;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.federation.FederationModel;
import io.fedlora.coordinator.federation.FederationRepository;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.springframework.stereotype.Component;

/**
 * Exports a version as what an HF user loads, zipped, in {@link ExportLayout}'s layout: the merged federated model
 * (original keys and dtypes, the model directory's config and tokenizer files) at the top, loadable with a plain
 * {@code from_pretrained}, and the trainable form below it: {@code adapter/} (the PEFT adapter, naming no base) and
 * {@code base/} (the residual-folded base it belongs on).
 */
@Component
public class ModelExporter {

    private final FederationRepository federations;
    private final ModelTensors tensors;
    private final BlobStore blobs;
    private final Path scratch;
    private static final long STORE_FROM_BYTES = 1 << 20;

    public ModelExporter(FederationRepository federations, ModelTensors tensors, BlobStore blobs,
            FedloraProperties properties) {
        this.federations = federations;
        this.tensors = tensors;
        this.blobs = blobs;
        this.scratch = properties.dataDir().resolve("tmp");
    }

    /**
     * Builds the export as a zip file in the data dir's scratch space and returns it; the caller sends it and
     * deletes it. Building it whole first means every failure of the export itself happens before a byte is sent
     * (an error status), and the response can declare its exact length.
     */
    public Path buildZip(Federation f, ModelVersion v) throws IOException {
        FederationModel m = federations.model(f.id());
        Files.createDirectories(scratch);
        Path dir = Files.createTempDirectory(scratch, "export-");
        Path zipFile = scratch.resolve(dir.getFileName() + ".zip");
        Map<String, LoraFactors> factors = Map.of();
        try {
            factors = tensors.readAdapter(v.adapterBlob(), m.layers());
            // the version's folded target weights, read from its blob as each file's writer reaches them
            ReplacedWeights replaced = new FoldedWeights(tensors, v.weightsBlob(), m.keyPrefix(), m.layers());
            Map<String, String> modelFiles = federations.files(f.id());
            ModelSpec spec = ModelFamilies.readFile(blobs.path(modelFiles.get(ModelFamilies.CONFIG_FILE)));
            // PEFT's fan_in_fan_out is one flag per adapter: the family stores all its adaptable modules one way
            WeightLayout layout = m.layers().get(0).layout();
            if (m.layers().stream().anyMatch(l -> l.layout() != layout)) {
                throw new IllegalStateException("the targets of federation " + f.id() + " mix weight layouts; a PEFT "
                        + "adapter has one fan_in_fan_out flag");
            }
            // no base_model_name_or_path: the coordinator's original (unfolded) base is the wrong model for this adapter,
            // and a relative path would resolve against the caller's working directory. Its base is the export's base/.
            PeftAdapterConfig config = new PeftAdapterConfig(f.spec().rank(), f.spec().alpha(), f.spec().targetModules(),
                    layout.fanInFanOut(), f.spec().useRslora(), null);
            Map<String, String> baseKeys = new LinkedHashMap<>();
            Map<String, WeightLayout> layouts = new LinkedHashMap<>();
            for (LayerShape l : m.layers()) {
                baseKeys.put(l.module(), m.keyPrefix() + l.baseKey());
                layouts.put(l.module(), l.layout());
            }
            try (SafetensorsReader base = SafetensorsReader.open(blobs.path(m.baseBlob()))) {
                // PEFT wraps the *ForCausalLM model: its body prefix comes from the family, not from the checkpoint
                ExportLayout.writeWeights(dir, config, factors, spec.peftModulePrefix(), baseKeys, layouts,
                        m.scaling().scale(), base, replaced);
            }
            Map<String, Path> auxiliary = new LinkedHashMap<>();
            modelFiles.forEach((name, blob) -> auxiliary.put(name, blobs.path(blob)));
            ExportLayout.writeModelFiles(dir, auxiliary);
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(zipFile), 1 << 20);
                 ZipOutputStream zip = new ZipOutputStream(out); Stream<Path> files = Files.walk(dir)) {
                for (Path p : files.filter(Files::isRegularFile).sorted().toList()) {
                    zip.putNextEntry(entry(dir.relativize(p).toString().replace('\\', '/'), p));
                    Files.copy(p, zip);
                    zip.closeEntry();
                }
            }
            return zipFile;
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(zipFile);
            throw e;
        } finally {
            // off-heap arrays, freed now rather than at a full collection
            factors.values().forEach(LoraFactors::release);
            try (Stream<Path> walk = Files.walk(dir)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** A version's folded target weights under the base model's keys, read one at a time from its weights blob. */
    private record FoldedWeights(ModelTensors tensors, String blobSha, Map<String, LayerShape> byKey)
            implements ReplacedWeights {

        FoldedWeights(ModelTensors tensors, String blobSha, String keyPrefix, List<LayerShape> layers) {
            this(tensors, blobSha, layers.stream().collect(java.util.stream.Collectors.toMap(
                    l -> keyPrefix + l.baseKey(), l -> l, (x, y) -> x, LinkedHashMap::new)));
        }

        @Override
        public java.util.Set<String> keys() {
            return byKey.keySet();
        }

        @Override
        public long[] shape(String key) {
            return byKey.get(key).baseShape();
        }

        @Override
        public INDArray read(String key) {
            return tensors.readTargetWeight(blobSha, byKey.get(key));
        }
    }

    /**
     * Weights are stored, not deflated: fp32 weights hardly compress and deflating a GPT-2-size model costs tens
     * of seconds of CPU; small text files are deflated.
     */
    private static ZipEntry entry(String name, Path p) throws IOException {
        ZipEntry e = new ZipEntry(name);
        long size = Files.size(p);
        if (size < STORE_FROM_BYTES) {
            e.setMethod(ZipEntry.DEFLATED);
            return e;
        }
        CRC32 crc = new CRC32();
        try (InputStream in = Files.newInputStream(p)) {
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) {
                crc.update(buf, 0, n);
            }
        }
        e.setMethod(ZipEntry.STORED);
        e.setSize(size);
        e.setCompressedSize(size);
        e.setCrc(crc.getValue());
        return e;
    }
}
