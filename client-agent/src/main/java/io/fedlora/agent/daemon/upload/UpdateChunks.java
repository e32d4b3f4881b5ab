package io.fedlora.agent.daemon.upload;

import com.google.protobuf.ByteString;
import io.fedlora.aggregation.lora.WeightLayout;
import io.fedlora.proto.v1.DType;
import io.fedlora.proto.v1.TensorData;
import io.fedlora.proto.v1.TensorMeta;
import io.fedlora.proto.v1.TensorRole;
import io.fedlora.proto.v1.UpdateChunk;
import io.fedlora.proto.v1.UpdateHeader;
import io.fedlora.proto.v1.UpdateTrailer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * The message sequence of one upload attempt: header, each tensor's bytes in chunks of at most
 * {@code chunkBytes}, trailer with the sha256 over all tensor bytes in header order. Tensors are encoded
 * lazily, one at a time, so memory stays at one tensor whatever the update's size.
 */
final class UpdateChunks implements Iterator<UpdateChunk> {

    private final PendingUpload upload;
    private final PendingUploadStore store;
    private final int chunkBytes;
    private final MessageDigest whole = WireTensors.sha256();
    private boolean headerSent;
    private boolean trailerSent;
    private int tensorIndex;
    private byte[] current;
    private int offset;

    UpdateChunks(PendingUpload upload, PendingUploadStore store, int chunkBytes) {
        if (chunkBytes <= 0) {
            throw new IllegalArgumentException("chunk size must be positive");
        }
        this.upload = upload;
        this.store = store;
        this.chunkBytes = chunkBytes;
    }

    static UpdateHeader header(PendingUpload upload) {
        UpdateHeader.Builder h = UpdateHeader.newBuilder()
                .setFederationId(upload.federationId())
                .setRound(upload.round())
                .setUploadId(upload.uploadId())
                .setNumExamples(upload.numExamples())
                .setBaseModelVersion(upload.baseModelVersion())
                .putAllMetrics(upload.metrics());
        for (PendingUpload.Tensor t : upload.tensors()) {
            h.addTensors(TensorMeta.newBuilder()
                    .setName(t.name()).setModule(t.module())
                    .setRole(TensorRole.valueOf(t.role())).setDtype(DType.valueOf(t.dtype()))
                    .addAllShape(Arrays.stream(t.shape()).boxed().toList())
                    .setSha256(t.sha256()).setByteSize(t.byteSize())
                    .setLayout(layout(t.layout())));
        }
        return h.build();
    }

    private static io.fedlora.proto.v1.WeightLayout layout(WeightLayout layout) {
        if (layout == null) {
            return io.fedlora.proto.v1.WeightLayout.WEIGHT_LAYOUT_UNSPECIFIED;
        }
        return switch (layout) {
            case LINEAR -> io.fedlora.proto.v1.WeightLayout.WEIGHT_LAYOUT_LINEAR;
            case CONV1D -> io.fedlora.proto.v1.WeightLayout.WEIGHT_LAYOUT_CONV1D;
        };
    }

    @Override
    public boolean hasNext() {
        return !trailerSent;
    }

    @Override
    public UpdateChunk next() {
        if (trailerSent) {
            throw new NoSuchElementException();
        }
        if (!headerSent) {
            headerSent = true;
            return UpdateChunk.newBuilder().setHeader(header(upload)).build();
        }
        while (current == null || offset >= current.length) {
            if (current != null) {
                tensorIndex++;
                current = null;
            }
            if (tensorIndex >= upload.tensors().size()) {
                trailerSent = true;
                return UpdateChunk.newBuilder().setTrailer(UpdateTrailer.newBuilder()
                        .setUploadSha256(HexFormat.of().formatHex(whole.digest()))).build();
            }
            current = load(upload.tensors().get(tensorIndex));
            offset = 0;
            if (current.length == 0) {
                continue;
            }
        }
        int len = Math.min(chunkBytes, current.length - offset);
        TensorData data = TensorData.newBuilder().setTensorIndex(tensorIndex).setOffset(offset)
                .setData(ByteString.copyFrom(current, offset, len)).build();
        offset += len;
        return UpdateChunk.newBuilder().setData(data).build();
    }

    private byte[] load(PendingUpload.Tensor t) {
        byte[] bytes;
        try {
            bytes = WireTensors.encode(store.tensor(t.name()), t.dtype());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read pending tensor " + t.name(), e);
        }
        String sha = WireTensors.sha256Hex(bytes);
        if (!sha.equals(t.sha256()) || bytes.length != t.byteSize()) {
            throw new IllegalStateException("pending tensor " + t.name() + " no longer matches its recorded sha256");
        }
        whole.update(bytes);
        return bytes;
    }
}
