package io.fedlora.coordinator.model;

import io.fedlora.aggregation.lora.LoraLayer;
import io.fedlora.aggregation.lora.LoraScaling;
import io.fedlora.aggregation.lora.WeightLayout;

/** A LoRA target as stored with its federation: the module and its base weight's shape and layout. */
public record LayerShape(String module, int dOut, int dIn, WeightLayout layout) {

    public LoraLayer toLoraLayer(LoraScaling scaling) {
        return new LoraLayer(module, dOut, dIn, scaling.rank(), layout, scaling);
    }

    public String baseKey() {
        return module + ".weight";
    }

    public String loraA() {
        return module + ".lora_A";
    }

    public String loraB() {
        return module + ".lora_B";
    }

    /** Shape of the base weight in its own layout. */
    public long[] baseShape() {
        return layout == WeightLayout.CONV1D ? new long[] {dIn, dOut} : new long[] {dOut, dIn};
    }
}
