package io.fedlora.agent.daemon.cache;

import io.fedlora.agent.daemon.files.AtomicFiles;
import io.fedlora.agent.daemon.transport.CoordinatorClient;
import io.fedlora.aggregation.basemodel.BaseHashCache;
import io.fedlora.aggregation.basemodel.Difference;
import io.fedlora.aggregation.basemodel.ExpectedEntry;
import io.fedlora.aggregation.basemodel.LocalBaseModel;
import io.fedlora.aggregation.safetensors.DType;
import io.fedlora.proto.v1.DownloadRequest;
import io.fedlora.proto.v1.ModelChunk;
import io.fedlora.proto.v1.ModelManifest;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.TensorRole;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The base model from the agent's own disk ({@code --base-model DIR}) in place of the first full download: the agent
 * asks for the manifest of version 0's full state (no tensor bytes), checks its copy against it entry by entry
 * ({@link LocalBaseModel}: name, shape, dtype, sha256; digests remembered in {@code work-dir/base-model-hashes.json}
 * under each file's size and mtime) and, only when everything matches, builds version 0's tensors and files in a
 * staging directory exactly as a full download would have written them, so it can ask for the delta from version 0.
 * A copy that differs is reported naming the first differing tensor or file, and the agent downloads the full state.
 */
public final class LocalBase {

    private static final Logger log = LoggerFactory.getLogger(LocalBase.class);
    static final String HASH_FILE = "base-model-hashes.json";

    /** A staged version 0 without its adapter (which comes with the delta), or why the local copy was not used. */
    public record Outcome(CachedVersion staged, String refusal) {
        public boolean installed() {
            return staged != null;
        }
    }

    private final CoordinatorClient client;
    private final ModelCache cache;
    private final Path dir;
    private final Path hashFile;

    public LocalBase(CoordinatorClient client, ModelCache cache, Path dir, Path workDir) {
        this.client = client;
        this.cache = cache;
        this.dir = dir;
        this.hashFile = workDir.resolve(HASH_FILE);
    }

    /** Checks the local copy against version 0 of {@code federationId} and stages it when it matches. */
    public Outcome stage(String federationId) throws InterruptedException {
        ModelManifest manifest = client.download(DownloadRequest.newBuilder().setFederationId(federationId)
                .setModelVersion(0).setHaveVersion(-1).setManifestOnly(true).build(), LocalBase::manifestOf);
        List<TensorMeta> metas = manifest.getTensorsList().stream()
                .filter(t -> t.getRole() == TensorRole.BASE || t.getRole() == TensorRole.FILE).toList();
        List<ExpectedEntry> expected = metas.stream().map(LocalBase::entry).toList();
        long start = System.nanoTime();
        Path staging = null;
        try (LocalBaseModel local = LocalBaseModel.open(dir, BaseHashCache.persistent(hashFile))) {
            java.util.Optional<Difference> d = local.firstDifference(expected);
            if (d.isPresent()) {
                return refused("--base-model " + dir + " is not this federation's base model: " + d.get().name()
                        + " differs (" + d.get().reason() + ")");
            }
            List<ReceivedTensor> tensors = new ArrayList<>(metas.size());
            for (int i = 0; i < metas.size(); i++) {
                tensors.add(new ReceivedTensor(metas.get(i), local.bytes(expected.get(i))));
            }
            staging = cache.newStagingDir(federationId, 0);
            VersionBuilder.build(tensors, null, staging);
            log.info("--base-model {} matches version 0 of federation {} ({} tensors and files, sha256 checked in {} ms):"
                    + " asking for the delta from version 0", dir, federationId, metas.size(),
                    (System.nanoTime() - start) / 1_000_000);
            return new Outcome(new CachedVersion(federationId, 0, staging), null);
        } catch (IOException | RuntimeException e) {
            if (staging != null) {
                discard(new CachedVersion(federationId, 0, staging));
            }
            return refused("--base-model " + dir + " cannot be used: " + e.getMessage());
        }
    }

    /** Removes a staged version 0 once the version built on it is in the cache (or the download failed). */
    static void discard(CachedVersion staged) {
        try {
            AtomicFiles.deleteTree(staged.dir());
        } catch (IOException e) {
            log.warn("cannot remove the staged local base model {}: {}", staged.dir(), e.getMessage());
        }
    }

    private static Outcome refused(String why) {
        log.warn("{}; downloading the full state instead", why);
        return new Outcome(null, why);
    }

    /** The manifest alone; stops reading there (a coordinator that ignores manifest_only streams everything). */
    private static ModelManifest manifestOf(Iterator<ModelChunk> chunks) {
        if (!chunks.hasNext()) {
            throw new ModelIntegrityException("the manifest of version 0 did not arrive");
        }
        ModelChunk first = chunks.next();
        if (!first.hasManifest() || first.getManifest().getBaseVersion() != -1) {
            throw new ModelIntegrityException("asked for the manifest of version 0's full state, got something else");
        }
        return first.getManifest();
    }

    private static ExpectedEntry entry(TensorMeta t) {
        boolean file = t.getRole() == TensorRole.FILE;
        DType dtype = file ? DType.U8 : VersionBuilder.dtype(t);
        return new ExpectedEntry(t.getName(), file, dtype, t.getShapeList().stream().mapToLong(Long::longValue).toArray(),
                t.getSha256());
    }
}
