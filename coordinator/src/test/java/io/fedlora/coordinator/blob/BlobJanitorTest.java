package io.fedlora.coordinator.blob;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.coordinator.support.CoordinatorTestBase;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.beans.factory.annotation.Autowired;

/** The startup sweep removes exactly what a crash can leave behind, against the real {@code blobs} table. */
class BlobJanitorTest extends CoordinatorTestBase {

    @Autowired BlobRepository rows;

    @Test
    void removesOldTempFilesAndUnregisteredBlobsOnly(@TempDir Path dir) throws Exception {
        BlobStore store = new BlobStore(dir.resolve("blobs"));
        Instant cutoff = Instant.now();
        FileTime before = FileTime.from(cutoff.minusSeconds(3600));
        FileTime after = FileTime.from(cutoff.plusSeconds(3600));

        StoredBlob kept = store.putFile(file(dir, "kept", 100));
        rows.register(kept);
        StoredBlob orphan = store.putFile(file(dir, "orphan", 250));
        StoredBlob fresh = store.putFile(file(dir, "fresh", 70));
        Path oldTemp = Files.write(store.tmpDir().resolve("crashed.part"), new byte[40]);
        Path newTemp = Files.write(store.tmpDir().resolve("in-flight.part"), new byte[5]);
        for (Path p : new Path[] {store.path(kept.sha256()), store.path(orphan.sha256()), oldTemp}) {
            Files.setLastModifiedTime(p, before);
        }
        Files.setLastModifiedTime(store.path(fresh.sha256()), after);
        Files.setLastModifiedTime(newTemp, after);

        BlobJanitor.Sweep sweep = new BlobJanitor(store, rows).sweep(cutoff);

        assertThat(sweep).isEqualTo(new BlobJanitor.Sweep(1, 1, 40 + orphan.sizeBytes()));
        assertThat(store.exists(kept.sha256())).as("registered blob").isTrue();
        assertThat(store.exists(orphan.sha256())).as("unregistered old blob").isFalse();
        assertThat(store.exists(fresh.sha256())).as("blob newer than the cutoff").isTrue();
        assertThat(oldTemp).doesNotExist();
        assertThat(newTemp).exists();
        assertThat(new BlobJanitor(store, rows).sweep(cutoff)).as("a second sweep finds nothing")
                .isEqualTo(new BlobJanitor.Sweep(0, 0, 0));
    }

    private static Path file(Path dir, String name, int size) throws Exception {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (name.hashCode() + i);
        }
        return Files.write(dir.resolve(name + ".bin"), b);
    }
}
