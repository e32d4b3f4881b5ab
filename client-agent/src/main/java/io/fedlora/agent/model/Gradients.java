package io.fedlora.agent.model;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Map;

/**
 * Result of one forward/backward pass: the mean loss over target tokens, the number of target tokens, and the
 * gradients of that mean loss keyed by {@code <module>.lora_A} / {@code <module>.lora_B} (LoRA modes) or by HF
 * weight name (base mode).
 */
public record Gradients(double loss, double targetTokens, Map<String, INDArray> grads) {
}
