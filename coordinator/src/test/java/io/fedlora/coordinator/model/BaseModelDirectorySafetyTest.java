package io.fedlora.coordinator.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fedlora.coordinator.support.TinyGpt2;
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
        assertThat(d.weights()).isEqualTo(dir.toAbsolutePath().resolve("model.safetensors"));
    }
}
