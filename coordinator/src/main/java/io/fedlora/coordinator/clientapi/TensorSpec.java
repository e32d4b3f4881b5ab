package io.fedlora.coordinator.clientapi;

import io.fedlora.aggregation.safetensors.DType;

/** Name, dtype and shape a tensor must have; {@code module} is the LoRA module it belongs to. */
public record TensorSpec(String name, String module, TensorRole role, DType dtype, long[] shape) {}
