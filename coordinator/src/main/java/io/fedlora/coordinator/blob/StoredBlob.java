package io.fedlora.coordinator.blob;

/** A durable blob: its sha256 (the file name) and size. */
public record StoredBlob(String sha256, long sizeBytes) {}
