package io.fedlora.agent.daemon;

import static io.fedlora.agent.daemon.TestSupport.file;
import static io.fedlora.agent.daemon.TestSupport.tensor;
import static io.fedlora.agent.daemon.TestSupport.values;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.fedlora.agent.daemon.cache.CachedVersion;
import io.fedlora.agent.daemon.cache.ModelCache;
import io.fedlora.agent.daemon.cache.ModelDownloader;
import io.fedlora.agent.daemon.cache.ModelIntegrityException;
import io.fedlora.agent.daemon.transport.CoordinatorClient;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.TensorRole;
import io.fedlora.proto.v1.WeightLayout;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Full state, then a delta whose residuals must be folded exactly: {@code W += s·U·V} for a Linear weight
 * ({@code d_out x d_in}) and the transpose for a Conv1D weight ({@code d_in x d_out}); both non-square so a
 * wrong transpose cannot go unnoticed. Expected values are computed here with plain loops.
 */
class ModelDownloaderTest {

    static final String FED = ScriptedCoordinator.FEDERATION;
    static final int D_OUT = 5;
    static final int D_IN = 3;
    static final int K = 2;
    static final WeightLayout LINEAR = WeightLayout.WEIGHT_LAYOUT_LINEAR;

    @TempDir
    Path work;
    ScriptedCoordinator coordinator;
    ManagedChannel channel;
    ModelCache cache;
    ModelDownloader downloader;

    @BeforeEach
    void start() throws Exception {
        coordinator = new ScriptedCoordinator();
        channel = NettyChannelBuilder.forTarget(coordinator.target()).usePlaintext().build();
        CoordinatorClient client = new CoordinatorClient(channel, TestSupport.props(coordinator.target(), work, work, null));
        client.useCredential(ScriptedCoordinator.CREDENTIAL);
        cache = new ModelCache(work);
        downloader = new ModelDownloader(client, cache);
    }

    @AfterEach
    void stop() throws Exception {
        channel.shutdownNow();
        coordinator.close();
    }

    float[] linear = values(D_OUT * D_IN, 1);   // Linear layout: D_OUT x D_IN
    float[] conv = values(D_IN * D_OUT, 2);     // Conv1D layout: D_IN x D_OUT
    float[] dense = values(4, 3);
    float[] u = values(D_OUT * K, 4);
    float[] v = values(K * D_IN, 5);
    float[] r = values(4, 6);
    float[] a0 = values(2 * D_IN, 7);
    float[] b0 = new float[D_OUT * 2];
    float[] a1 = values(2 * D_IN, 8);
    float[] b1 = values(D_OUT * 2, 9);
    byte[] config = "{\"n_layer\":1}".getBytes(StandardCharsets.UTF_8);

    private void serveFullState() {
        coordinator.serve(FED, 0, -1, List.of(
                tensor("lin.weight", TensorRole.BASE, new long[] {D_OUT, D_IN}, linear),
                tensor("h.0.attn.c_attn.weight", TensorRole.BASE, new long[] {D_IN, D_OUT}, conv),
                tensor("ln_f.weight", TensorRole.BASE, new long[] {4}, dense),
                tensor("h.0.attn.c_attn.lora_A", TensorRole.LORA_A, new long[] {2, D_IN}, a0),
                tensor("h.0.attn.c_attn.lora_B", TensorRole.LORA_B, new long[] {D_OUT, 2}, b0),
                file("config.json", config)), 7);
    }

    private static ScriptedCoordinator.BundleTensor residual(ScriptedCoordinator.BundleTensor t, String module, String target,
                                                             double scale, WeightLayout layout) {
        TensorMeta meta = t.meta().toBuilder().setModule(module).setTarget(target).setScale(scale).setLayout(layout).build();
        return new ScriptedCoordinator.BundleTensor(meta, t.bytes());
    }

    private void serveDelta(double scale) {
        serveDelta(scale, WeightLayout.WEIGHT_LAYOUT_CONV1D);
    }

    /** The delta with the Conv1D module's residual declared in {@code convLayout}. */
    private void serveDelta(double scale, WeightLayout convLayout) {
        coordinator.serve(FED, 1, 0, List.of(
                tensor("h.0.attn.c_attn.lora_A", TensorRole.LORA_A, new long[] {2, D_IN}, a1),
                tensor("h.0.attn.c_attn.lora_B", TensorRole.LORA_B, new long[] {D_OUT, 2}, b1),
                residual(tensor("lin.residual_U", TensorRole.RESIDUAL_U, new long[] {D_OUT, K}, u), "lin", "lin.weight", scale, LINEAR),
                residual(tensor("lin.residual_V", TensorRole.RESIDUAL_V, new long[] {K, D_IN}, v), "lin", "lin.weight", scale, LINEAR),
                residual(tensor("c.residual_U", TensorRole.RESIDUAL_U, new long[] {D_OUT, K}, u), "h.0.attn.c_attn",
                        "h.0.attn.c_attn.weight", scale, convLayout),
                residual(tensor("c.residual_V", TensorRole.RESIDUAL_V, new long[] {K, D_IN}, v), "h.0.attn.c_attn",
                        "h.0.attn.c_attn.weight", scale, convLayout),
                residual(tensor("ln_f.residual", TensorRole.RESIDUAL_DENSE, new long[] {4}, r), "", "ln_f.weight", 1.0, LINEAR)), 5);
    }

    @Test
    void fullStateThenDeltaFoldsResidualsExactlyInBothLayouts() throws Exception {
        serveFullState();
        CachedVersion v0 = downloader.ensure(FED, 0);
        assertThat(coordinator.downloads.get(0).getHaveVersion()).isEqualTo(-1);
        assertThat(Files.readAllBytes(v0.dir().resolve("config.json"))).isEqualTo(config);
        assertThat(read(v0.modelFile(), "lin.weight")).containsExactly(linear);

        double s = 1.75;
        serveDelta(s);
        CachedVersion v1 = downloader.ensure(FED, 1);
        assertThat(coordinator.downloads.get(1).getHaveVersion()).isEqualTo(0);
        assertThat(cache.newestVersion(FED)).isEqualTo(1);
        assertThat(Files.readString(work.resolve("models").resolve(FED).resolve("current")).trim()).isEqualTo("1");

        float[] lin1 = read(v1.modelFile(), "lin.weight");
        float[] conv1 = read(v1.modelFile(), "h.0.attn.c_attn.weight");
        for (int o = 0; o < D_OUT; o++) {
            for (int i = 0; i < D_IN; i++) {
                double uv = 0;
                for (int k = 0; k < K; k++) {
                    uv += (double) u[o * K + k] * v[k * D_IN + i];
                }
                assertThat(lin1[o * D_IN + i]).as("linear[%d][%d]", o, i).isCloseTo((float) (linear[o * D_IN + i] + s * uv), within(1e-5f));
                assertThat(conv1[i * D_OUT + o]).as("conv1d[%d][%d]", i, o).isCloseTo((float) (conv[i * D_OUT + o] + s * uv), within(1e-5f));
            }
        }
        float[] ln = read(v1.modelFile(), "ln_f.weight");
        for (int i = 0; i < 4; i++) {
            assertThat(ln[i]).isCloseTo(dense[i] + r[i], within(1e-6f));
        }
        Map<String, LoraFactors> adapter = v1.adapter();
        assertThat(adapter.get("h.0.attn.c_attn").a().data().asFloat()).containsExactly(a1);
        assertThat(adapter.get("h.0.attn.c_attn").b().data().asFloat()).containsExactly(b1);
        // the version it was built from is untouched, and auxiliary files carry over
        assertThat(read(v0.modelFile(), "lin.weight")).containsExactly(linear);
        assertThat(Files.readAllBytes(v1.dir().resolve("config.json"))).isEqualTo(config);

        // cached versions are not downloaded again
        downloader.ensure(FED, 1);
        assertThat(coordinator.downloads).hasSize(2);
    }

    @Test
    void aResidualThatNamesNoLayoutIsRefusedAndTheNewVersionIsNotCached() throws Exception {
        serveFullState();
        downloader.ensure(FED, 0);
        serveDelta(1.0, WeightLayout.WEIGHT_LAYOUT_UNSPECIFIED);
        assertThatThrownBy(() -> downloader.ensure(FED, 1)).isInstanceOf(ModelIntegrityException.class)
                .hasMessageContaining("names no weight layout");
        assertThat(cache.newestVersion(FED)).isZero();
    }

    @Test
    void keepsOnlyTheTwoNewestVersions() throws Exception {
        serveFullState();
        downloader.ensure(FED, 0);
        serveDelta(0.5);
        downloader.ensure(FED, 1);
        coordinator.serve(FED, 2, 1, List.of(
                tensor("h.0.attn.c_attn.lora_B", TensorRole.LORA_B, new long[] {D_OUT, 2}, values(D_OUT * 2, 11))), 64);
        CachedVersion v2 = downloader.ensure(FED, 2);
        assertThat(cache.versions(FED)).extracting(CachedVersion::version).containsExactly(1L, 2L);
        // A carried over from v1, B replaced, base linked unchanged
        assertThat(v2.adapter().get("h.0.attn.c_attn").a().data().asFloat()).containsExactly(a1);
        assertThat(read(v2.modelFile(), "ln_f.weight")).containsExactly(read(cache.get(FED, 1).orElseThrow().modelFile(), "ln_f.weight"));
    }

    @Test
    void tensorWhoseBytesDoNotMatchItsSha256IsRefusedAndNothingIsCached() throws Exception {
        ScriptedCoordinator.BundleTensor good = tensor("lin.weight", TensorRole.BASE, new long[] {D_OUT, D_IN}, linear);
        byte[] corrupted = good.bytes().clone();
        corrupted[5] ^= 0x10;
        coordinator.serve(FED, 0, -1, List.of(new ScriptedCoordinator.BundleTensor(good.meta(), corrupted)), 16);

        assertThatThrownBy(() -> downloader.ensure(FED, 0)).isInstanceOf(ModelIntegrityException.class)
                .hasMessageContaining("sha256 mismatch for tensor lin.weight");
        assertThat(cache.newestVersion(FED)).isEqualTo(-1);
        Path fedDir = work.resolve("models").resolve(FED);
        if (Files.exists(fedDir)) {
            try (Stream<Path> left = Files.list(fedDir)) {
                assertThat(left).isEmpty();
            }
        }
    }

    @Test
    void deltaFromAVersionTheAgentDoesNotHoldIsRefused() {
        serveDelta(1.0);
        assertThatThrownBy(() -> downloader.ensure(FED, 1)).isInstanceOf(ModelIntegrityException.class)
                .hasMessageContaining("delta from version 0");
    }

    @Test
    void auxiliaryFileNamesCannotEscapeTheCacheEntry() throws Exception {
        coordinator.serve(FED, 0, -1, List.of(
                tensor("lin.weight", TensorRole.BASE, new long[] {D_OUT, D_IN}, linear),
                file("../../evil.sh", "boom".getBytes(StandardCharsets.UTF_8))), 64);
        assertThatThrownBy(() -> downloader.ensure(FED, 0)).isInstanceOf(ModelIntegrityException.class)
                .hasMessageContaining("evil.sh");
        assertThat(work.resolve("evil.sh")).doesNotExist();
        assertThat(work.resolve("models").resolve("evil.sh")).doesNotExist();
        try (Stream<Path> left = Files.list(work.resolve("models").resolve(FED))) {
            assertThat(left).as("staging directory removed").isEmpty();
        }
    }

    private static float[] read(Path file, String name) throws Exception {
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            return reader.readFloat(name).data().asFloat();
        }
    }
}
