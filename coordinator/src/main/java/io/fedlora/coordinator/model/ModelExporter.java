package io.fedlora.coordinator.model;

import io.fedlora.aggregation.family.ModelFamilies;
import io.fedlora.aggregation.family.ModelSpec;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.lora.WeightLayout;
import io.fedlora.aggregation.peft.PeftAdapterConfig;
import io.fedlora.aggregation.peft.PeftExporter;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.coordinator.blob.BlobStore;
import io.fedlora.coordinator.config.FedloraProperties;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.federation.FederationModel;
import io.fedlora.coordinator.federation.FederationRepository;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.springframework.stereotype.Component;

/**
 * Exports a version as what an HF user loads: the PEFT adapter ({@code adapter_config.json},
 * {@code adapter_model.safetensors}), the residual-folded base ({@code model.safetensors}, original
 * keys and dtypes) and the model directory's auxiliary files, zipped.
 */
@Component
public class ModelExporter {

    private final FederationRepository federations;
    private final ModelTensors tensors;
    private final BlobStore blobs;
    private final Path scratch;

    public ModelExporter(FederationRepository federations, ModelTensors tensors, BlobStore blobs,
            FedloraProperties properties) {
        this.federations = federations;
        this.tensors = tensors;
        this.blobs = blobs;
        this.scratch = properties.dataDir().resolve("tmp");
    }

    public void writeZip(Federation f, ModelVersion v, OutputStream out) throws IOException {
        FederationModel m = federations.model(f.id());
        Files.createDirectories(scratch);
        Path dir = Files.createTempDirectory(scratch, "export-");
        try {
            Map<String, LoraFactors> factors = tensors.readAdapter(v.adapterBlob(), m.layers());
            Map<String, INDArray> folded = tensors.readTargetWeights(v.weightsBlob(), m.layers());
            Map<String, INDArray> replaced = new LinkedHashMap<>();
            folded.forEach((key, w) -> replaced.put(m.keyPrefix() + key, w));
            Map<String, String> modelFiles = federations.files(f.id());
            ModelSpec spec = ModelFamilies.readFile(blobs.path(modelFiles.get(ModelFamilies.CONFIG_FILE)));
            // PEFT's fan_in_fan_out is one flag per adapter: the family stores all its adaptable modules one way
            boolean conv1d = m.layers().get(0).layout() == WeightLayout.CONV1D;
            PeftAdapterConfig config = new PeftAdapterConfig(f.spec().rank(), f.spec().alpha(), f.spec().targetModules(),
                    conv1d, f.spec().useRslora(), f.spec().baseModelDescription());
            try (SafetensorsReader base = SafetensorsReader.open(blobs.path(m.baseBlob()))) {
                // PEFT wraps the *ForCausalLM model: its body prefix comes from the family, not from the checkpoint
                PeftExporter.export(dir, config, factors, spec.peftModulePrefix(), base, replaced);
            }
            for (Map.Entry<String, String> file : modelFiles.entrySet()) {
                Path target = dir.resolve(file.getKey());
                if (!Files.exists(target)) {
                    Files.copy(blobs.path(file.getValue()), target);
                }
            }
            try (ZipOutputStream zip = new ZipOutputStream(out); Stream<Path> files = Files.list(dir)) {
                for (Path p : files.sorted().toList()) {
                    zip.putNextEntry(new ZipEntry(p.getFileName().toString()));
                    Files.copy(p, zip);
                    zip.closeEntry();
                }
            }
        } finally {
            try (Stream<Path> walk = Files.walk(dir)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
