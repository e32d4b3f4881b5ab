package io.fedlora.coordinator.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fedlora.aggregation.family.Checkpoint;
import io.fedlora.coordinator.support.Shards;
import io.fedlora.coordinator.support.TinyGpt2;
import io.fedlora.coordinator.support.TinyLlama;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A base-model path comes from an admin request, so the inspector trusts nothing in it: symbolic links (the file's
 * or the directory's own), FIFOs and other non-regular files are refused before anything is read, only the files
 * the format names are picked up, and a path that is not a model directory gets one answer whether it exists or
 * not, never quoting a file.
 */
class BaseModelDirectorySafetyTest {

    private final BaseModelInspector inspector = new BaseModelInspector();

    @TempDir Path tmp;

    private String refusal(Path dir) {
        return refusal(dir.toString());
    }

    private String refusal(String path) {
        InvalidModelException e = (InvalidModelException) org.assertj.core.api.Assertions.catchThrowable(
                () -> inspector.inspect("path", path, List.of()));
        assertThat(e).as(path).isNotNull();
        assertThat(e.field()).isEqualTo("path");
        assertThat(e.getMessage()).doesNotContain("root:").doesNotContain(tmp.toString());
        return e.getMessage();
    }

    @Test
    void aSymlinkToAServerFileIsRefusedAndNeverRead() throws Exception {
        Path dir = TinyGpt2.write(tmp.resolve("m"), false);
        Files.deleteIfExists(dir.resolve("merges.txt"));
        Files.createSymbolicLink(dir.resolve("merges.txt"), Path.of("/etc/passwd"));
        assertThat(refusal(dir)).contains("merges.txt", "symbolic link");
    }

    @Test
    void symlinkedWeightsConfigOrDirectoryAreRefused() throws Exception {
        Path real = TinyGpt2.write(tmp.resolve("real"), false);
        Path weights = TinyGpt2.write(tmp.resolve("w"), false);
        Path moved = Files.move(weights.resolve("model.safetensors"), tmp.resolve("elsewhere.safetensors"));
        Files.createSymbolicLink(weights.resolve("model.safetensors"), moved);
        assertThat(refusal(weights)).contains("model.safetensors");

        Path config = TinyGpt2.write(tmp.resolve("c"), false);
        Path movedConfig = Files.move(config.resolve("config.json"), tmp.resolve("elsewhere.json"));
        Files.createSymbolicLink(config.resolve("config.json"), movedConfig);
        assertThat(refusal(config)).isEqualTo(BaseModelInspector.NOT_A_MODEL_DIRECTORY);

        Path link = Files.createSymbolicLink(tmp.resolve("link-to-real"), real);
        assertThat(refusal(link)).isEqualTo(BaseModelInspector.NOT_A_MODEL_DIRECTORY);
        assertThat(inspector.inspect("path", real.toString(), List.of()).dir()).isEqualTo(real.toAbsolutePath());
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void aFifoIsRefusedWithoutOpeningIt() throws Exception {
        Path dir = TinyGpt2.write(tmp.resolve("fifo"), false);
        Files.deleteIfExists(dir.resolve("vocab.json"));
        Process mkfifo = new ProcessBuilder("mkfifo", dir.resolve("vocab.json").toString()).inheritIO().start();
        assertThat(mkfifo.waitFor()).isZero();
        // opening a FIFO blocks until a writer comes: the timeout fails the test if the inspector opened it
        assertThat(refusal(dir)).contains("vocab.json", "not a regular file");
    }

    @Test
    void pathsThatAreNotModelDirectoriesGetOneAnswerWhetherOrNotTheyExist() throws Exception {
        String missing = refusal(tmp.resolve("does-not-exist"));
        assertThat(refusal("/etc")).isEqualTo(missing);
        assertThat(refusal("/etc/passwd")).isEqualTo(missing);
        assertThat(refusal("/root/.ssh")).isEqualTo(missing);
        assertThat(missing).isEqualTo(BaseModelInspector.NOT_A_MODEL_DIRECTORY);
    }

    @Test
    void aNulInThePathIsAnInvalidPathNotACrash() {
        assertThat(refusal(tmp + "/model\u0000/../etc")).isEqualTo("not a valid file system path");
    }

    @Test
    void onlyTheFilesTheFormatNamesAreReadFromTheDirectory() throws Exception {
        Path dir = TinyGpt2.write(tmp.resolve("extra"), false);
        Files.writeString(dir.resolve("secrets.env"), "PASSWORD=x");
        Files.createSymbolicLink(dir.resolve("notes.txt"), Path.of("/etc/passwd"));
        BaseModelDirectory d = inspector.inspect("path", dir.toString(), List.of());
        assertThat(d.auxFiles().keySet()).isSubsetOf(BaseModelInspector.AUX_FILES).doesNotContain("secrets.env", "notes.txt");
        assertThat(d.weights()).containsExactly(dir.toAbsolutePath().resolve("model.safetensors"));
    }

    // ---- sharded checkpoints: the index and only the shards it names, each a regular file in its own right ----

    private Path shardedLlama(String name) throws Exception {
        Path dir = TinyLlama.write(tmp.resolve(name));
        Shards.split(dir, 2);
        return dir;
    }

    private String shardRefusal(Path dir) {
        InvalidModelException e = (InvalidModelException) org.assertj.core.api.Assertions.catchThrowable(
                () -> inspector.inspect("path", dir.toString(), List.of()));
        assertThat(e).as(dir.toString()).isNotNull();
        assertThat(e.field()).isEqualTo("path");
        assertThat(e.getMessage()).doesNotContain("root:");
        return e.getMessage();
    }

    @Test
    void aShardedCheckpointIsReadFromItsIndexAndTheShardsItNames() throws Exception {
        Path dir = shardedLlama("sharded");
        Files.writeString(dir.resolve("model-00003-of-00003.safetensors"), "not named by the index: never read");
        BaseModelDirectory d = inspector.inspect("path", dir.toString(), List.of());
        assertThat(d.weights()).extracting(p -> p.getFileName().toString())
                .containsExactly("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors");
        assertThat(d.auxFiles()).doesNotContainKeys(Checkpoint.INDEX_FILE, "model-00001-of-00002.safetensors");
    }

    @Test
    void aSymlinkedShardOrIndexIsRefused() throws Exception {
        Path shard = shardedLlama("link-shard");
        Path moved = Files.move(shard.resolve("model-00002-of-00002.safetensors"), tmp.resolve("elsewhere.safetensors"));
        Files.createSymbolicLink(shard.resolve("model-00002-of-00002.safetensors"), moved);
        assertThat(shardRefusal(shard)).contains("model-00002-of-00002.safetensors", "not a regular file");

        Path toSecret = shardedLlama("link-secret");
        Files.delete(toSecret.resolve("model-00001-of-00002.safetensors"));
        Files.createSymbolicLink(toSecret.resolve("model-00001-of-00002.safetensors"), Path.of("/etc/passwd"));
        assertThat(shardRefusal(toSecret)).contains("model-00001-of-00002.safetensors", "symbolic links are not followed");

        Path index = shardedLlama("link-index");
        Path movedIndex = Files.move(index.resolve(Checkpoint.INDEX_FILE), tmp.resolve("elsewhere.json"));
        Files.createSymbolicLink(index.resolve(Checkpoint.INDEX_FILE), movedIndex);
        assertThat(shardRefusal(index)).contains(Checkpoint.INDEX_FILE, "symbolic link");
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void aShardThatIsAFifoIsRefusedWithoutOpeningIt() throws Exception {
        Path dir = shardedLlama("fifo-shard");
        Files.delete(dir.resolve("model-00002-of-00002.safetensors"));
        Process mkfifo = new ProcessBuilder("mkfifo", dir.resolve("model-00002-of-00002.safetensors").toString())
                .inheritIO().start();
        assertThat(mkfifo.waitFor()).isZero();
        assertThat(shardRefusal(dir)).contains("model-00002-of-00002.safetensors", "not a regular file");
    }

    @Test
    void shardNamesOutsideTheDirectoryAndAnIndexThatDisagreesWithItsShardsAreRefused() throws Exception {
        Files.writeString(tmp.resolve("outside.safetensors"), "x");
        for (String name : List.of("../outside.safetensors", "/etc/passwd", "sub/model.safetensors", "config.json")) {
            Path dir = shardedLlama("escape-" + Math.abs(name.hashCode()));
            String index = Files.readString(dir.resolve(Checkpoint.INDEX_FILE));
            Files.writeString(dir.resolve(Checkpoint.INDEX_FILE),
                    index.replaceFirst("model-00002-of-00002.safetensors", name.replace("\\", "\\\\")));
            assertThat(shardRefusal(dir)).as(name).contains("is not a .safetensors file name in the directory");
        }

        // k_proj of layer 1 is in the second shard; an index mapping it to the first is not the model HF would load
        Path moved = shardedLlama("moved-tensor");
        String index = Files.readString(moved.resolve(Checkpoint.INDEX_FILE));
        Files.writeString(moved.resolve(Checkpoint.INDEX_FILE), index.replaceFirst(
                "(\"model.layers.1.self_attn.k_proj.weight\"\\s*:\\s*\")model-00002-of-00002", "$1model-00001-of-00002"));
        assertThat(shardRefusal(moved)).contains("model.layers.1.self_attn.k_proj.weight", "model-00002-of-00002.safetensors",
                "maps it to model-00001-of-00002.safetensors");

        Path broken = shardedLlama("broken-index");
        Files.writeString(broken.resolve(Checkpoint.INDEX_FILE), "{\"weight_map\": secret-token");
        assertThat(shardRefusal(broken)).contains("not valid JSON").doesNotContain("secret-token");
    }
}
