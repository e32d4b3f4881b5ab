package io.fedlora.agent.daemon.cache;

import io.fedlora.agent.daemon.files.AtomicFiles;
import io.fedlora.agent.daemon.transport.CoordinatorClient;
import io.fedlora.proto.v1.DownloadRequest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes sure a model version is in the cache: asks the coordinator for it with {@code have_version} set to
 * the newest version held (so it can send only the delta), verifies the stream and publishes the result
 * atomically. A download the cache cannot apply is refused with {@link ModelIntegrityException}.
 */
public final class ModelDownloader {

    private static final Logger log = LoggerFactory.getLogger(ModelDownloader.class);

    private final CoordinatorClient client;
    private final ModelCache cache;
    private final LocalBase localBase;

    public ModelDownloader(CoordinatorClient client, ModelCache cache) {
        this(client, cache, null);
    }

    /** With {@code localBase} (may be null): an agent that holds no version installs the base from its own disk. */
    public ModelDownloader(CoordinatorClient client, ModelCache cache, LocalBase localBase) {
        this.client = client;
        this.cache = cache;
        this.localBase = localBase;
    }

    public CachedVersion ensure(String federationId, long version) throws IOException, InterruptedException {
        Optional<CachedVersion> cached = cache.get(federationId, version);
        if (cached.isPresent()) {
            return cached.get();
        }
        long have = cache.newestVersion(federationId);
        CachedVersion local = null;
        if (have < 0 && localBase != null) {
            local = localBase.stage(federationId).staged();
            have = local != null ? 0 : -1;
        }
        try {
            return download(federationId, version, have, local);
        } finally {
            if (local != null) {
                LocalBase.discard(local);
            }
        }
    }

    private CachedVersion download(String federationId, long version, long have, CachedVersion local)
            throws IOException, InterruptedException {
        DownloadRequest request = DownloadRequest.newBuilder()
                .setFederationId(federationId).setModelVersion(version).setHaveVersion(have).build();
        long start = System.nanoTime();
        StreamReceiver.Received received = client.download(request,
                chunks -> StreamReceiver.receive(chunks, federationId, version));
        long baseVersion = received.manifest().getBaseVersion();
        CachedVersion previous = null;
        if (baseVersion == 0 && local != null) {
            previous = local;
        } else if (baseVersion >= 0) {
            previous = cache.get(federationId, baseVersion).orElseThrow(() -> new ModelIntegrityException(
                    "coordinator sent a delta from version " + baseVersion + ", which this agent does not hold"));
        }
        Path staging = cache.newStagingDir(federationId, version);
        try {
            VersionBuilder.build(received.tensors(), previous, staging);
            CachedVersion published = cache.publish(federationId, version, baseVersion, staging);
            long bytes = received.tensors().stream().mapToLong(t -> t.bytes().length).sum();
            log.info("model version {} cached ({} from {}, {} tensors, {} KiB in {} ms)", version,
                    baseVersion < 0 ? "full state" : "delta", baseVersion < 0 ? "scratch"
                            : previous == local ? "v0 (the local base model)" : "v" + baseVersion,
                    received.tensors().size(), bytes / 1024, (System.nanoTime() - start) / 1_000_000);
            return published;
        } catch (IOException | RuntimeException e) {
            try {
                AtomicFiles.deleteTree(staging);
            } catch (IOException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    /** Cleans up what an interrupted agent left behind; call once at start. */
    public void recover() {
        try {
            cache.removeLeftovers();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot clean the model cache", e);
        }
    }
}
