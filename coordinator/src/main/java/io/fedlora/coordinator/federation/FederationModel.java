package io.fedlora.coordinator.federation;

import io.fedlora.aggregation.lora.LoraScaling;
import io.fedlora.coordinator.model.LayerShape;
import java.util.List;

/** The model side of a federation: base blob, resolved LoRA layers, key prefix of the checkpoint. */
public record FederationModel(String federationId, String baseBlob, List<LayerShape> layers, String keyPrefix,
        LoraScaling scaling) {}
