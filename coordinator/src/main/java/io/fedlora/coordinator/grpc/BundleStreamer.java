package io.fedlora.coordinator.grpc;

import com.google.protobuf.ByteString;
import io.fedlora.coordinator.clientapi.BundleEntry;
import io.fedlora.coordinator.clientapi.ModelBundle;
import io.fedlora.proto.v1.ModelChunk;
import io.fedlora.proto.v1.ModelManifest;
import io.fedlora.proto.v1.TensorData;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Streams a {@link ModelBundle} to one agent: the manifest, then each entry's bytes in chunks read from
 * its {@link BundleEntry.ByteSource} only while the call is ready for more, so a large base model is
 * never buffered in memory beyond gRPC's flow-control window. It streams only once {@link DownloadSlots} gives it a
 * slot (and gives the slot back however it ends), and only then looks the bundle up: a download waiting its turn
 * holds its request, not a bundle (a full state's entries, paths and digests, ~3 KB each, times a thousand waiting
 * clients). Its turn may start on another call's thread, so its methods synchronize on the streamer.
 */
final class BundleStreamer {

    private static final Logger log = LoggerFactory.getLogger(BundleStreamer.class);

    private final Supplier<ModelBundle> lookup;
    private final long version;
    private final ServerCallStreamObserver<ModelChunk> out;
    private final int chunkBytes;
    private final String clientId;
    private final DownloadSlots slots;
    private final Runnable begin = this::begin;

    private ModelBundle bundle;
    private boolean started;
    private boolean released;
    private boolean manifestSent;
    private int entryIndex;
    private InputStream current;
    private long offset;
    private boolean finished;

    /**
     * @param lookup  the bundle to send (and count as sent), called once the download has its slot; a failure is
     *                the call's error status
     * @param version the requested version, for logs before the bundle is known
     */
    BundleStreamer(Supplier<ModelBundle> lookup, long version, ServerCallStreamObserver<ModelChunk> out, int chunkBytes,
            String clientId, DownloadSlots slots) {
        this.slots = slots;
        this.lookup = lookup;
        this.version = version;
        this.out = out;
        this.chunkBytes = chunkBytes;
        this.clientId = clientId;
    }

    /** Installs the flow-control handlers (before the service method returns) and waits for a slot to stream. */
    void start() {
        out.setOnCancelHandler(this::cancelled);
        out.setOnReadyHandler(this::drain);
        slots.acquire(begin);
    }

    private void cancelled() {
        log.debug("Download of version {} cancelled by client {}", version, clientId);
        synchronized (this) {
            finished = true;
            closeCurrent();
        }
        if (!slots.withdraw(begin)) {
            releaseOnce();
        }
    }

    private void begin() {
        synchronized (this) {
            started = true;
            if (finished) {
                // cancelled while its turn was being handed over: release below, nothing looked up
            } else {
                try {
                    bundle = lookup.get();
                } catch (RuntimeException e) {
                    finished = true;
                    out.onError(GrpcStatusMapper.toStatus(e, "DownloadModel"));
                }
            }
        }
        drain();
    }

    private void drain() {
        synchronized (this) {
            if (started && !finished) {
                send();
            }
        }
        boolean done;
        synchronized (this) {
            done = started && finished;
        }
        if (done) {
            releaseOnce();
        }
    }

    private void releaseOnce() {
        synchronized (this) {
            if (!started || released) {
                return;
            }
            released = true;
        }
        slots.release();
    }

    private void send() {
        try {
            while (!finished && out.isReady()) {
                if (!manifestSent) {
                    out.onNext(ModelChunk.newBuilder().setManifest(manifest()).build());
                    manifestSent = true;
                } else {
                    sendNextChunk();
                }
            }
        } catch (IOException | RuntimeException e) {
            finished = true;
            closeCurrent();
            out.onError(e instanceof IOException
                    ? Status.UNAVAILABLE.withDescription("could not read model version " + version
                            + " from the blob store").asRuntimeException()
                    : GrpcStatusMapper.toStatus(e, "DownloadModel"));
            if (e instanceof IOException) {
                log.error("Reading model version {} for client {} failed", version, clientId, e);
            }
        }
    }

    private void sendNextChunk() throws IOException {
        List<BundleEntry> entries = bundle.entries();
        while (current == null && entryIndex < entries.size() && entries.get(entryIndex).byteSize() == 0) {
            entryIndex++; // an empty entry is complete with the manifest alone
        }
        if (entryIndex == entries.size()) {
            finished = true;
            out.onCompleted();
            return;
        }
        BundleEntry entry = entries.get(entryIndex);
        if (current == null) {
            current = entry.content().open();
            offset = 0;
        }
        int want = (int) Math.min(chunkBytes, entry.byteSize() - offset);
        byte[] buf = current.readNBytes(want);
        if (buf.length < want) {
            throw new IllegalStateException("blob of '" + entry.name() + "' ended at byte " + (offset + buf.length)
                    + " but the bundle declares " + entry.byteSize());
        }
        out.onNext(ModelChunk.newBuilder().setData(TensorData.newBuilder()
                .setTensorIndex(entryIndex).setOffset(offset).setData(ByteString.copyFrom(buf))).build());
        offset += buf.length;
        if (offset == entry.byteSize()) {
            if (current.read() != -1) {
                throw new IllegalStateException("blob of '" + entry.name() + "' is longer than the "
                        + entry.byteSize() + " bytes the bundle declares");
            }
            closeCurrent();
            entryIndex++;
            offset = 0;
        }
    }

    private ModelManifest manifest() {
        return manifest(bundle);
    }

    /** The manifest of {@code bundle}: every entry's name, role, dtype, shape, sha256 and size. */
    static ModelManifest manifest(ModelBundle bundle) {
        ModelManifest.Builder m = ModelManifest.newBuilder()
                .setFederationId(bundle.federationId())
                .setModelVersion(bundle.modelVersion())
                .setBaseVersion(bundle.baseVersion())
                .setTotalBytes(bundle.totalBytes());
        bundle.entries().forEach(e -> m.addTensors(ProtoMapping.toMeta(e)));
        return m.build();
    }

    private void closeCurrent() {
        if (current != null) {
            try {
                current.close();
            } catch (IOException e) {
                log.warn("Closing a blob stream failed", e);
            }
            current = null;
        }
    }
}
