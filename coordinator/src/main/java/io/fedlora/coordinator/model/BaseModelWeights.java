package io.fedlora.coordinator.model;

import io.fedlora.aggregation.family.Checkpoint;
import io.fedlora.coordinator.blob.BlobStore;
import io.fedlora.coordinator.blob.StoredBlob;
import java.io.IOException;
import java.io.UncheckedIOException;
import org.springframework.stereotype.Component;

/**
 * Snapshots an inspected model directory's weights into the blob store as the one safetensors file the coordinator
 * keeps per base model: {@code model.safetensors} as it is, or a sharded checkpoint's tensors merged byte for byte
 * (dtypes, shapes and keys unchanged, the index's shards only, no link followed). Everything after registration
 * (residual folds, downloads, exports) then finds each tensor by its key whichever shard it came from.
 */
@Component
public class BaseModelWeights {

    private final BlobStore blobs;

    public BaseModelWeights(BlobStore blobs) {
        this.blobs = blobs;
    }

    public StoredBlob store(BaseModelDirectory dir) {
        if (!dir.sharded()) {
            return blobs.putFile(dir.weights().get(0));
        }
        try (Checkpoint checkpoint = Checkpoint.open(dir.dir(), false)) {
            // opened again to copy: the shards' headers must still be the model the inspection validated
            if (!checkpoint.checkAgainst(dir.spec()).equals(dir.keyPrefix())) {
                throw new InvalidModelException("path", "the shards of the model directory changed while they were read");
            }
            return blobs.putSafetensors(checkpoint.rawTensors(), checkpoint.singleFileMetadata());
        } catch (io.fedlora.aggregation.family.UnsupportedModelException e) {
            throw new InvalidModelException("path", "the shards of the model directory changed while they were read ("
                    + e.getMessage() + ")");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the shards of " + dir.dir() + ": " + e.getMessage(), e);
        }
    }
}
