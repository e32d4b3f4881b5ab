package io.fedlora.agent.daemon;

import static io.fedlora.agent.daemon.TestSupport.file;
import static io.fedlora.agent.daemon.TestSupport.tensor;
import static io.fedlora.agent.daemon.TestSupport.values;
import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.agent.daemon.cache.CachedVersion;
import io.fedlora.agent.daemon.cache.LocalBase;
import io.fedlora.agent.daemon.cache.ModelCache;
import io.fedlora.agent.daemon.cache.ModelDownloader;
import io.fedlora.agent.daemon.transport.CoordinatorClient;
import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.aggregation.safetensors.SafetensorsWriter;
import io.fedlora.aggregation.safetensors.TensorData;
import io.fedlora.proto.v1.DownloadRequest;
import io.fedlora.proto.v1.TensorRole;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.factory.Nd4j;

/**
 * An agent started with {@code --base-model}: when its local HF directory matches version 0's manifest it asks only
 * for the delta from version 0 and builds the version from its own tensors plus the delta; when one tensor differs or
 * a file is missing it says which and downloads the full state, never using the local copy.
 */
class LocalBaseDownloadTest {

    static final String FED = ScriptedCoordinator.FEDERATION;
    static final byte[] CONFIG = ("{\"model_type\": \"gpt2\", \"n_embd\": 4, \"n_layer\": 1, \"n_head\": 2,"
            + " \"n_positions\": 8, \"vocab_size\": 6}").getBytes(StandardCharsets.UTF_8);

    @TempDir
    Path work;
    @TempDir
    Path hf;
    ScriptedCoordinator coordinator;
    ManagedChannel channel;
    ModelCache cache;
    CoordinatorClient client;

    float[] wte = values(6 * 4, 1);
    float[] cAttn0 = values(4 * 12, 2);
    float[] cAttn1 = values(4 * 12, 3);
    float[] a = values(8 * 4, 4);
    float[] b = values(12 * 8, 5);

    @BeforeEach
    void start() throws Exception {
        coordinator = new ScriptedCoordinator();
        channel = NettyChannelBuilder.forTarget(coordinator.target()).usePlaintext().build();
        client = new CoordinatorClient(channel, TestSupport.props(coordinator.target(), work, work, null));
        client.useCredential(ScriptedCoordinator.CREDENTIAL);
        cache = new ModelCache(work);
        writeLocalModel(wte);
        List<ScriptedCoordinator.BundleTensor> full0 = new ArrayList<>(List.of(
                tensor("wte.weight", TensorRole.BASE, new long[] {6, 4}, wte),
                tensor("h.0.attn.c_attn.weight", TensorRole.BASE, new long[] {4, 12}, cAttn0)));
        full0.addAll(adapter());
        full0.add(file("config.json", CONFIG));
        coordinator.serve(FED, 0, -1, full0, 7);
        List<ScriptedCoordinator.BundleTensor> full1 = new ArrayList<>(List.of(
                tensor("wte.weight", TensorRole.BASE, new long[] {6, 4}, wte),
                tensor("h.0.attn.c_attn.weight", TensorRole.BASE, new long[] {4, 12}, cAttn1)));
        full1.addAll(adapter());
        full1.add(file("config.json", CONFIG));
        coordinator.serve(FED, 1, -1, full1, 7);
        List<ScriptedCoordinator.BundleTensor> delta = new ArrayList<>(List.of(
                tensor("h.0.attn.c_attn.weight", TensorRole.BASE, new long[] {4, 12}, cAttn1)));
        delta.addAll(adapter());
        coordinator.serveDelta(FED, 1, 0, delta, 7);
    }

    private List<ScriptedCoordinator.BundleTensor> adapter() {
        return List.of(module(tensor("h.0.attn.c_attn.lora_A", TensorRole.LORA_A, new long[] {8, 4}, a)),
                module(tensor("h.0.attn.c_attn.lora_B", TensorRole.LORA_B, new long[] {12, 8}, b)));
    }

    private static ScriptedCoordinator.BundleTensor module(ScriptedCoordinator.BundleTensor t) {
        return new ScriptedCoordinator.BundleTensor(t.meta().toBuilder().setModule("h.0.attn.c_attn").build(), t.bytes());
    }

    private void writeLocalModel(float[] wteValues) throws Exception {
        List<TensorData> t = List.of(
                TensorData.of("transformer.wte.weight", Nd4j.create(wteValues, new long[] {6, 4}, 'c'), DType.F32),
                TensorData.of("transformer.h.0.attn.c_attn.weight", Nd4j.create(cAttn0, new long[] {4, 12}, 'c'), DType.F32));
        SafetensorsWriter.write(hf.resolve("model.safetensors"), t, Map.of("format", "pt"));
        Files.write(hf.resolve("config.json"), CONFIG);
    }

    @AfterEach
    void stop() throws Exception {
        channel.shutdownNow();
        coordinator.close();
    }

    private ModelDownloader downloader() {
        return new ModelDownloader(client, cache, new LocalBase(client, cache, hf, work));
    }

    @Test
    void aMatchingLocalBaseIsInstalledAsVersionZeroAndOnlyTheDeltaIsDownloaded() throws Exception {
        CachedVersion v1 = downloader().ensure(FED, 1);

        assertThat(coordinator.downloads).extracting(DownloadRequest::getManifestOnly).containsExactly(true, false);
        assertThat(coordinator.downloads.get(1).getHaveVersion()).as("asked for the delta from version 0").isZero();
        assertThat(read(v1.modelFile(), "wte.weight")).as("from the local copy").containsExactly(wte);
        assertThat(read(v1.modelFile(), "h.0.attn.c_attn.weight")).as("from the delta").containsExactly(cAttn1);
        assertThat(Files.readAllBytes(v1.dir().resolve("config.json"))).isEqualTo(CONFIG);
        assertThat(v1.adapter()).containsKey("h.0.attn.c_attn");
        assertThat(cache.versions(FED)).extracting(CachedVersion::version).containsExactly(1L);
        try (var s = Files.list(work.resolve("models").resolve(FED))) {
            assertThat(s.filter(p -> p.getFileName().toString().startsWith(".tmp-")).toList())
                    .as("the staged local base is removed").isEmpty();
        }
        assertThat(work.resolve("base-model-hashes.json")).as("digests remembered for the next start").exists();
    }

    @Test
    void oneDifferingTensorIsNamedAndTheFullStateIsDownloaded() throws Exception {
        float[] other = wte.clone();
        other[3] = -other[3];
        writeLocalModel(other);

        LocalBase.Outcome o = new LocalBase(client, cache, hf, work).stage(FED);
        assertThat(o.installed()).isFalse();
        assertThat(o.refusal()).contains("wte.weight differs").contains("sha256");

        CachedVersion v1 = downloader().ensure(FED, 1);
        assertThat(coordinator.downloads.get(coordinator.downloads.size() - 1).getHaveVersion()).isEqualTo(-1);
        assertThat(read(v1.modelFile(), "wte.weight")).as("the federation's, not the local one").containsExactly(wte);
    }

    @Test
    void aMissingFileIsNamedAndTheFullStateIsDownloaded() throws Exception {
        List<ScriptedCoordinator.BundleTensor> full0 = new ArrayList<>(List.of(
                tensor("wte.weight", TensorRole.BASE, new long[] {6, 4}, wte),
                tensor("h.0.attn.c_attn.weight", TensorRole.BASE, new long[] {4, 12}, cAttn0)));
        full0.addAll(adapter());
        full0.add(file("config.json", CONFIG));
        full0.add(file("vocab.json", "{}".getBytes(StandardCharsets.UTF_8)));
        coordinator.serve(FED, 0, -1, full0, 7);

        LocalBase.Outcome o = new LocalBase(client, cache, hf, work).stage(FED);
        assertThat(o.installed()).isFalse();
        assertThat(o.refusal()).contains("vocab.json differs").contains("missing");

        CachedVersion v0 = downloader().ensure(FED, 0);
        assertThat(coordinator.downloads.get(coordinator.downloads.size() - 1).getHaveVersion()).isEqualTo(-1);
        assertThat(v0.dir().resolve("vocab.json")).exists();
    }

    private static float[] read(Path file, String name) throws Exception {
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            return reader.readFloat(name).data().asFloat();
        }
    }
}
