package io.fedlora.agent.model;

/** Which parameters a backward pass produces gradients for. Frozen weights never get one in the LoRA modes. */
public enum GradientTarget {
    /** LoRA A and B of every adapted module (activation gradients flow through the frozen layers). */
    LORA,
    /** Only LoRA B (FFA-LoRA: A stays at its initial value, so its gradient is never computed). */
    LORA_B_ONLY,
    /** Every base weight, for pre-training a fresh model in {@code init-model}; adapters are not differentiated. */
    BASE
}
