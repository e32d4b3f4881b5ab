package io.fedlora.aggregation.strategy;

import io.fedlora.aggregation.lora.LoraFactors;
import java.util.Map;

/** One client's contribution to a round: its LoRA factors per module and how many examples it trained on. */
public record ClientUpdate(String clientId, long numExamples, Map<String, LoraFactors> factors) {

    public ClientUpdate {
        if (clientId == null || clientId.isBlank()) {
            throw new IllegalArgumentException("client update needs a client id");
        }
        factors = Map.copyOf(factors);
    }
}
