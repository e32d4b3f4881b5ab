package io.fedlora.coordinator.clientapi;

import java.util.List;

/** What a DownloadModel stream sends; {@code baseVersion} is -1 for a full state. */
public record ModelBundle(String federationId, long modelVersion, long baseVersion, List<BundleEntry> entries) {
    public long totalBytes() {
        return entries.stream().mapToLong(BundleEntry::byteSize).sum();
    }
}
