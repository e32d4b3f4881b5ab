package io.fedlora.coordinator.clientapi;

import io.fedlora.aggregation.lora.WeightLayout;
import io.fedlora.aggregation.safetensors.DType;
import java.io.IOException;
import java.io.InputStream;

/**
 * One tensor (or auxiliary file) of a model bundle. Bytes are streamed from the blob store on demand
 * so a large base model is never held in memory at once. {@code layout} is the layout of {@code module}'s base
 * weight for residuals and adapter factors (from the model family), null for base tensors and files.
 */
public record BundleEntry(
        String name,
        TensorRole role,
        DType dtype,
        long[] shape,
        String sha256,
        long byteSize,
        String module,
        String target,
        double scale,
        WeightLayout layout,
        ByteSource content) {

    /** Opens the entry's little-endian bytes. */
    @FunctionalInterface
    public interface ByteSource {
        InputStream open() throws IOException;
    }
}
