package io.fedlora.demo.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.ObjectMapper;

class WorkDirAndZipTest {

    @TempDir
    Path dir;

    @Test
    void refusesToWipeADirectoryTheDemoDidNotMake() throws Exception {
        Path mine = dir.resolve("users-stuff");
        Files.createDirectories(mine);
        Files.writeString(mine.resolve("thesis.tex"), "precious");
        assertThatThrownBy(() -> WorkDir.prepare(mine)).isInstanceOf(DemoFailure.class).hasMessageContaining("not empty");
        assertThat(mine.resolve("thesis.tex")).exists();
    }

    @Test
    void theDashboardKeyFileIsReadableByItsOwnerOnly() throws Exception {
        Path key = WorkDir.writePrivate(dir.resolve("admin-api-key"), "k1");
        assertThat(Files.readString(key)).isEqualTo("k1");
        assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(key))).isEqualTo("rw-------");
        WorkDir.writePrivate(key, "k2");
        assertThat(Files.readString(key)).isEqualTo("k2");
    }

    @Test
    void defaultWorkDirIsANewDirectoryUnderTheSystemTempDir() throws Exception {
        Path first = WorkDir.freshTemporary();
        Path second = WorkDir.freshTemporary();
        try {
            Path tmp = Path.of(System.getProperty("java.io.tmpdir")).toAbsolutePath().normalize();
            assertThat(first.toAbsolutePath().normalize().getParent()).isEqualTo(tmp);
            assertThat(first.getFileName().toString()).startsWith("fedlora-demo-");
            assertThat(first).isNotEqualTo(second);
            assertThat(WorkDir.prepare(first)).isEqualTo(first.toAbsolutePath().normalize());
        } finally {
            WorkDir.deleteTree(first);
            WorkDir.deleteTree(second);
        }
    }

    @Test
    void reusesAnEarlierDemoDirectory() throws Exception {
        Path w = WorkDir.prepare(dir.resolve("demo"));
        Files.createDirectories(w.resolve("coordinator/pg"));
        Files.writeString(w.resolve("coordinator/pg/file"), "x");
        Path again = WorkDir.prepare(w);
        assertThat(again.resolve("coordinator")).doesNotExist();
        assertThat(again.resolve(WorkDir.MARKER)).exists();
    }

    @Test
    void extractsZipsAndRejectsEntriesOutsideTheTarget() throws Exception {
        Path good = zip("good.zip", "adapter_config.json", "adapter_model.safetensors");
        assertThat(ZipExtractor.extract(good, dir.resolve("out")))
                .containsExactlyInAnyOrder(Path.of("adapter_config.json"), Path.of("adapter_model.safetensors"));
        assertThat(dir.resolve("out/adapter_config.json")).hasContent("adapter_config.json");

        Path evil = zip("evil.zip", "../escaped.txt");
        assertThatThrownBy(() -> ZipExtractor.extract(evil, dir.resolve("out2"))).hasMessageContaining("outside");
        assertThat(dir.resolve("escaped.txt")).doesNotExist();
    }

    @Test
    void countsClientsInEitherAnswerShape() throws Exception {
        ObjectMapper m = new ObjectMapper();
        assertThat(FederationDriver.clientCount(m.readTree("[{\"id\":1},{\"id\":2}]"))).isEqualTo(2);
        assertThat(FederationDriver.clientCount(m.readTree("{\"clients\":[{\"id\":1}]}"))).isEqualTo(1);
        assertThat(FederationDriver.clientCount(m.readTree("{}"))).isZero();
    }

    private Path zip(String name, String... entries) throws Exception {
        Path zip = dir.resolve(name);
        try (OutputStream out = Files.newOutputStream(zip); ZipOutputStream z = new ZipOutputStream(out)) {
            for (String entry : entries) {
                z.putNextEntry(new ZipEntry(entry));
                z.write(entry.getBytes(StandardCharsets.UTF_8));
                z.closeEntry();
            }
        }
        return zip;
    }
}
