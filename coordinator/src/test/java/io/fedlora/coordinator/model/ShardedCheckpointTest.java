package io.fedlora.coordinator.model;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.aggregation.family.Checkpoint;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.aggregation.safetensors.TensorInfo;
import io.fedlora.coordinator.blob.BlobStore;
import io.fedlora.coordinator.clientapi.BundleEntry;
import io.fedlora.coordinator.clientapi.ModelBundle;
import io.fedlora.coordinator.clientapi.TensorRole;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.federation.FederationModel;
import io.fedlora.coordinator.federation.FederationRepository;
import io.fedlora.coordinator.federation.FederationSpec;
import io.fedlora.coordinator.federation.FederationStatus;
import io.fedlora.coordinator.gateway.ModelBundleBuilder;
import io.fedlora.coordinator.support.CoordinatorTestBase;
import io.fedlora.coordinator.support.Shards;
import io.fedlora.coordinator.support.SimulatedClient;
import io.fedlora.coordinator.support.TinyLlama;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.springframework.beans.factory.annotation.Autowired;

/**
 * A Llama checkpoint sharded as {@code save_pretrained} shards it ({@code model.safetensors.index.json} and two
 * {@code model-0000N-of-00002.safetensors}) is registered, federated, shipped and exported like a single-file one:
 * the coordinator keeps one blob holding every tensor byte for byte, folds each residual into its tensor whichever
 * shard it came from (layer 0's projections are in the first shard, layer 1's in the second), sends every base tensor
 * to the agents, and exports a {@code model.safetensors} with the original keys.
 */
class ShardedCheckpointTest extends CoordinatorTestBase {

    @Autowired BaseModelRegistry registry;
    @Autowired BlobStore blobs;
    @Autowired ModelVersionRepository versions;
    @Autowired FederationRepository federationRepository;
    @Autowired ModelTensors tensors;
    @Autowired ModelBundleBuilder bundles;
    @Autowired ModelExporter exporter;

    @TempDir Path tmp;

    /** A sharded TinyLlama and, beside it, the single file it was split from. */
    private Path sharded(String name) throws IOException {
        Path dir = TinyLlama.write(tmp.resolve(name));
        Files.copy(dir.resolve(Checkpoint.SINGLE_FILE), tmp.resolve(name + "-original.safetensors"));
        List<String> shards = Shards.split(dir, 2);
        assertThat(shards).containsExactly("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors");
        try (SafetensorsReader first = SafetensorsReader.open(dir.resolve(shards.get(0)));
             SafetensorsReader second = SafetensorsReader.open(dir.resolve(shards.get(1)))) {
            assertThat(first.tensors()).containsKey("model.layers.0.self_attn.k_proj.weight");
            assertThat(second.tensors()).containsKey("model.layers.1.self_attn.k_proj.weight");
        }
        return dir;
    }

    @Test
    void registrationKeepsEveryTensorOfTheShardsByteForByteInOneBlob() throws Exception {
        Path dir = sharded("reg");
        BaseModelDirectory inspected = new BaseModelInspector().inspect("path", dir.toString(), List.of("q_proj"));
        assertThat(inspected.sharded()).isTrue();
        assertThat(inspected.weights()).extracting(p -> p.getFileName().toString())
                .containsExactly("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors");

        RegisteredModel m = registry.register(uniqueName("sharded-llama"), dir.toString(), "test");
        assertThat(m.files()).as("the index and shards are weights, not auxiliary files").containsOnlyKeys("config.json");
        assertSameTensors(blobs.path(m.weightsBlob()), tmp.resolve("reg-original.safetensors"));
    }

    @Test
    void aFederationOnAShardedLlamaFoldsEachResidualIntoItsShardsTensorShipsAndExports() throws Exception {
        Path dir = sharded("fed");
        FederationSpec base = spec(uniqueName("sharded"), 1, 2, 2, 30, 0, false, "fedex");
        Federation f = createAndStart(new FederationSpec(base.name(), dir.toString(), List.of("q_proj", "k_proj"),
                base.rank(), base.alpha(), base.useRslora(), base.strategy(), base.weighting(), base.rounds(),
                base.clientsPerRound(), base.roundDeadlineSeconds(), base.minClients(), base.maxRoundRetries(),
                base.evaluate(), base.training(), base.maxUpdateNorm()));
        List<SimulatedClient> clients = enrol(f, 10, 30);
        for (SimulatedClient c : clients) {
            c.trainOnce(Duration.ofSeconds(10));
        }
        awaitStatus(f.id(), FederationStatus.COMPLETED, Duration.ofSeconds(20));

        FederationModel model = federationRepository.model(f.id());
        assertSameTensors(blobs.path(model.baseBlob()), tmp.resolve("fed-original.safetensors"));
        ModelVersion v0 = versions.find(f.id(), 0).orElseThrow();
        ModelVersion v1 = versions.find(f.id(), 1).orElseThrow();
        Map<String, INDArray> w0 = tensors.readTargetWeights(v0.weightsBlob(), model.layers());
        Map<String, INDArray> w1 = tensors.readTargetWeights(v1.weightsBlob(), model.layers());
        Map<String, LoraFactors> global = tensors.readAdapter(v1.adapterBlob(), model.layers());
        double s = model.scaling().scale();
        assertThat(model.layers()).extracting(LayerShape::module).contains("model.layers.0.self_attn.k_proj",
                "model.layers.1.self_attn.k_proj");
        Map<String, INDArray> federated = new HashMap<>();
        for (LayerShape l : model.layers()) {
            // nn.Linear: W [d_out, d_in] + s B A, no transpose
            INDArray target = w0.get(l.baseKey()).mul(0);
            for (SimulatedClient c : clients) {
                LoraFactors fc = c.lastFactors().get(l.module());
                target.addi(w0.get(l.baseKey()).add(fc.b().mmul(fc.a()).mul(s)).mul(c.numExamples() / 40.0));
            }
            LoraFactors g = global.get(l.module());
            INDArray got = w1.get(l.baseKey()).add(g.b().mmul(g.a()).mul(s));
            assertThat(got.sub(target).norm2Number().doubleValue() / target.norm2Number().doubleValue())
                    .as("exactness of %s", l.module()).isLessThan(1e-5);
            federated.put(l.baseKey(), got);
        }

        // the agents get every tensor of the checkpoint, the adapted ones folded
        ModelBundle full = bundles.full(v1);
        Map<String, BundleEntry> shipped = new HashMap<>();
        full.entries().stream().filter(e -> e.role() == TensorRole.BASE).forEach(e -> shipped.put(e.name(), e));
        try (SafetensorsReader original = SafetensorsReader.open(tmp.resolve("fed-original.safetensors"))) {
            assertThat(shipped.keySet()).containsExactlyInAnyOrderElementsOf(original.tensors().keySet());
        }

        // the export is one merged model.safetensors with the original keys, and base/model.safetensors, the folded
        // weights in place, for the adapter in adapter/
        Path unzipped = unzip(exporter.buildZip(federations.get(f.id()), v1), tmp.resolve("export"));
        assertThat(unzipped.resolve(Checkpoint.INDEX_FILE)).doesNotExist();
        assertThat(unzipped.resolve("config.json")).exists();
        assertThat(unzipped.resolve("adapter_config.json")).doesNotExist();
        assertThat(unzipped.resolve("base").resolve("config.json")).doesNotExist();
        assertThat(unzipped.resolve("base").resolve("generation_config.json")).exists();
        // the adapter names no base: the original (unfolded) checkpoint is not this adapter's base
        assertThat(new com.fasterxml.jackson.databind.ObjectMapper().readTree(unzipped.resolve("adapter")
                .resolve("adapter_config.json").toFile()).get("base_model_name_or_path").isNull()).isTrue();
        try (SafetensorsReader exported = SafetensorsReader.open(unzipped.resolve("base").resolve("model.safetensors"));
             SafetensorsReader merged = SafetensorsReader.open(unzipped.resolve("model.safetensors"));
             SafetensorsReader original = SafetensorsReader.open(tmp.resolve("fed-original.safetensors"))) {
            assertThat(exported.tensors().keySet()).containsExactlyInAnyOrderElementsOf(original.tensors().keySet());
            for (LayerShape l : model.layers()) {
                assertThat(exported.readFloat(l.baseKey()).equalsWithEps(w1.get(l.baseKey()), 0)).as(l.baseKey()).isTrue();
                INDArray m = merged.readFloat(l.baseKey());
                assertThat(m.sub(federated.get(l.baseKey())).norm2Number().doubleValue()
                        / m.norm2Number().doubleValue()).as("merged %s", l.baseKey()).isLessThan(1e-6);
            }
            assertThat(merged.tensors().keySet()).containsExactlyInAnyOrderElementsOf(original.tensors().keySet());
            assertThat(exported.readRaw("model.layers.1.post_attention_layernorm.weight"))
                    .isEqualTo(original.readRaw("model.layers.1.post_attention_layernorm.weight"));
        }
    }

    private static void assertSameTensors(Path file, Path expected) throws IOException {
        try (SafetensorsReader got = SafetensorsReader.open(file); SafetensorsReader want = SafetensorsReader.open(expected)) {
            assertThat(got.tensors().keySet()).containsExactlyInAnyOrderElementsOf(want.tensors().keySet());
            for (TensorInfo w : want.tensors().values()) {
                TensorInfo g = got.info(w.name());
                assertThat(g.dtype()).as(w.name()).isEqualTo(w.dtype());
                assertThat(g.shape()).as(w.name()).containsExactly(w.shape());
                assertThat(got.readRaw(w.name())).as(w.name()).isEqualTo(want.readRaw(w.name()));
            }
        }
    }

    private static Path unzip(Path zip, Path dir) throws IOException {
        try (InputStream in = Files.newInputStream(zip); ZipInputStream z = new ZipInputStream(in)) {
            for (ZipEntry e; (e = z.getNextEntry()) != null; ) {
                Path p = dir.resolve(e.getName()).normalize();
                Files.createDirectories(p.getParent());
                Files.copy(z, p);
            }
        } finally {
            Files.deleteIfExists(zip);
        }
        return dir;
    }
}
