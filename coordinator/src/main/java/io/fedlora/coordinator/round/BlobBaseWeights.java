package io.fedlora.coordinator.round;

import io.fedlora.aggregation.lora.OffHeap;
import io.fedlora.aggregation.strategy.BaseWeights;
import io.fedlora.coordinator.model.LayerShape;
import io.fedlora.coordinator.model.ModelTensors;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A round's base weights read from the base version's weights blob one layer at a time, when the round finishes,
 * and freed once that layer is done: a collecting round holds none of them (GPT-2-small {@code c_attn}: 85 MB, for
 * the whole round before).
 */
final class BlobBaseWeights implements BaseWeights {

    private final ModelTensors tensors;
    private final String blobSha;
    private final Map<String, LayerShape> byModule;

    BlobBaseWeights(ModelTensors tensors, String blobSha, List<LayerShape> shapes) {
        this.tensors = tensors;
        this.blobSha = blobSha;
        this.byModule = shapes.stream().collect(Collectors.toUnmodifiableMap(LayerShape::module, Function.identity()));
    }

    @Override
    public INDArray acquire(String module) {
        LayerShape layer = byModule.get(module);
        return layer == null ? null : tensors.readTargetWeight(blobSha, layer);
    }

    @Override
    public void release(INDArray weight) {
        OffHeap.release(weight);
    }
}
