package io.fedlora.coordinator.blob;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.aggregation.safetensors.TensorData;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Writers of the same bytes share one content-addressed file: a writer whose row never committed discards it,
 * and that discard must not remove the file another writer is about to reference (or already references).
 */
class BlobStoreHoldTest {

    @Test
    void aLosersDiscardKeepsTheFileAnotherWriterOfTheSameBytesHolds(@TempDir Path dir) {
        BlobStore store = new BlobStore(dir.resolve("blobs"));
        BlobStore.Pending loser = store.putSafetensorsPending(tensors(1), Map.of("upload", "u"));
        BlobStore.Pending winner = store.putSafetensorsPending(tensors(1), Map.of("upload", "u"));
        String sha = loser.blob().sha256();
        assertThat(winner.blob().sha256()).isEqualTo(sha);

        assertThat(loser.discardUnless(s -> false)).as("deleted while another writer holds it").isFalse();
        assertThat(store.exists(sha)).isTrue();
        winner.close(); // its row committed
        assertThat(store.held(sha)).isFalse();
        assertThat(store.exists(sha)).isTrue();
        assertThat(store.putSafetensorsPending(tensors(1), Map.of("upload", "u")).discardUnless(s -> s.equals(sha)))
                .as("a referenced blob is kept").isFalse();
        assertThat(store.exists(sha)).isTrue();
    }

    @Test
    void theLastUnreferencedDiscardRemovesTheFileAndNothingElse(@TempDir Path dir) throws Exception {
        BlobStore store = new BlobStore(dir.resolve("blobs"));
        BlobStore.Pending a = store.putSafetensorsPending(tensors(2), Map.of());
        BlobStore.Pending b = store.putSafetensorsPending(tensors(2), Map.of());
        BlobStore.Pending other = store.putSafetensorsPending(tensors(3), Map.of());
        assertThat(a.discardUnless(s -> false)).isFalse();
        assertThat(b.discardUnless(s -> false)).isTrue();
        assertThat(store.exists(a.blob().sha256())).isFalse();
        b.close(); // closing after a discard changes nothing
        a.discardUnless(s -> false);
        assertThat(store.held(a.blob().sha256())).isFalse();
        assertThat(store.exists(other.blob().sha256())).isTrue();
        other.close();
        try (Stream<Path> tmp = Files.list(store.tmpDir())) {
            assertThat(tmp.toList()).isEmpty();
        }
    }

    /**
     * Eight writers of the same bytes at once, round after round, in whatever order the threads run: in some rounds
     * one of them commits its row (registers, then releases), the rest discard. The file exists exactly when a row
     * references it, and no hold is left. (The losing interleaving itself is forced in the first test.)
     */
    @Test
    void concurrentWritersOfTheSameBytesNeverLoseACommittedBlob(@TempDir Path dir) throws Exception {
        BlobStore store = new BlobStore(dir.resolve("blobs"));
        int writers = 8;
        ExecutorService pool = Executors.newFixedThreadPool(writers);
        try {
            for (int round = 0; round < 150; round++) {
                Set<String> registered = ConcurrentHashMap.newKeySet();
                CyclicBarrier start = new CyclicBarrier(writers);
                int winner = round % 3 == 2 ? -1 : round % writers;
                List<TensorData> bytes = tensors(1000 + round);
                List<Future<String>> done = new ArrayList<>();
                for (int w = 0; w < writers; w++) {
                    boolean wins = w == winner;
                    done.add(pool.submit(() -> {
                        start.await(10, TimeUnit.SECONDS);
                        BlobStore.Pending p = store.putSafetensorsPending(bytes, Map.of("upload", "same"));
                        if (wins) {
                            registered.add(p.blob().sha256()); // the row commits while the hold is on
                            p.close();
                        } else {
                            p.discardUnless(registered::contains);
                        }
                        return p.blob().sha256();
                    }));
                }
                String sha = null;
                for (Future<String> f : done) {
                    sha = f.get(30, TimeUnit.SECONDS);
                }
                assertThat(store.held(sha)).isFalse();
                assertThat(store.exists(sha)).as("round %d: file exists iff a row references it", round)
                        .isEqualTo(winner >= 0);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static List<TensorData> tensors(int seed) {
        ByteBuffer b = ByteBuffer.allocate(64 * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 64; i++) {
            b.putFloat(seed * 100f + i);
        }
        b.flip();
        return List.of(TensorData.raw("w", DType.F32, new long[] {8, 8}, b));
    }
}
