package io.fedlora.coordinator.clientapi;

/** Same meaning as TensorRole in federation.proto. */
public enum TensorRole { BASE, LORA_A, LORA_B, RESIDUAL_DENSE, RESIDUAL_U, RESIDUAL_V, FILE }
