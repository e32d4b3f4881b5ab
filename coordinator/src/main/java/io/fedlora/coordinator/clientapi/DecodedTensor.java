package io.fedlora.coordinator.clientapi;

import org.nd4j.linalg.api.ndarray.INDArray;

/** An uploaded tensor whose bytes matched their declared sha256, decoded to fp32. */
public record DecodedTensor(TensorSpec spec, String sha256, INDArray values) {}
