package io.fedlora.agent.daemon.cache;

import io.fedlora.proto.v1.TensorMeta;

/** One tensor (or auxiliary file) of a download, complete and checked against its sha256. */
public record ReceivedTensor(TensorMeta meta, byte[] bytes) {}
