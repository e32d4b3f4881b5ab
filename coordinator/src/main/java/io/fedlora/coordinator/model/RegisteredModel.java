package io.fedlora.coordinator.model;

import java.time.Instant;
import java.util.Map;

/**
 * A base model registered under a name: where it was read from, and the blobs its files were snapshotted into
 * (weights, and auxiliary files by file name), so federations can use it after the directory is gone.
 */
public record RegisteredModel(String name, String sourcePath, String weightsBlob, long sizeBytes,
                              Map<String, String> files, Instant registeredAt) {

    public RegisteredModel {
        files = Map.copyOf(files);
    }
}
