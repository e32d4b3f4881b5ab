package io.fedlora.coordinator.clientapi;

import io.fedlora.aggregation.lora.WeightLayout;
import io.fedlora.aggregation.safetensors.DType;

/**
 * Name, dtype and shape a tensor must have; {@code module} is the LoRA module it belongs to and {@code layout} the
 * layout of that module's base weight (null when not given: an upload that declares none is refused).
 */
public record TensorSpec(String name, String module, TensorRole role, DType dtype, long[] shape, WeightLayout layout) {}
