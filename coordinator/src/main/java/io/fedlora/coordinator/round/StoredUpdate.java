package io.fedlora.coordinator.round;

import java.time.Instant;
import java.util.Map;

/** An accepted update's metadata; its tensors live in the blob {@code blobSha256}. */
public record StoredUpdate(String id, long roundId, String clientId, String uploadId, String blobSha256,
        String uploadSha256, long numExamples, long baseModelVersion, long bytesReceived, Map<String, Object> metrics,
        String status, Instant createdAt) {}
