package io.fedlora.coordinator.clientapi;

/** Acknowledgement of a durably stored update; {@code duplicate} when this upload id was seen before. */
public record UploadReceiptInfo(String updateId, boolean duplicate, long bytesReceived) {}
