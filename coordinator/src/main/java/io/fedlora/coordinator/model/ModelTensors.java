package io.fedlora.coordinator.model;

import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import io.fedlora.coordinator.blob.BlobStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.springframework.stereotype.Component;

/** Reads adapters and weights of stored versions back from their safetensors blobs as fp32 arrays. */
@Component
public class ModelTensors {

    private final BlobStore blobs;

    public ModelTensors(BlobStore blobs) {
        this.blobs = blobs;
    }

    /** The {@code <module>.lora_A/B} tensors of an adapter or update blob, per layer. */
    public Map<String, LoraFactors> readAdapter(String blobSha, List<LayerShape> layers) {
        try (SafetensorsReader r = SafetensorsReader.open(blobs.path(blobSha))) {
            Map<String, LoraFactors> out = new LinkedHashMap<>();
            for (LayerShape l : layers) {
                out.put(l.module(), new LoraFactors(r.readFloat(l.loraA()), r.readFloat(l.loraB())));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read adapter blob " + blobSha, e);
        }
    }

    /** The target base weights (keys {@code <module>.weight}, own layout) of a version's weights blob. */
    public Map<String, INDArray> readTargetWeights(String blobSha, List<LayerShape> layers) {
        try (SafetensorsReader r = SafetensorsReader.open(blobs.path(blobSha))) {
            Map<String, INDArray> out = new LinkedHashMap<>();
            for (LayerShape l : layers) {
                out.put(l.baseKey(), r.readFloat(l.baseKey()));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read weights blob " + blobSha, e);
        }
    }

    /** One layer's target base weight ({@code <module>.weight}, own layout, fp32) from a version's weights blob. */
    public INDArray readTargetWeight(String blobSha, LayerShape layer) {
        try (SafetensorsReader r = SafetensorsReader.open(blobs.path(blobSha))) {
            return r.readFloat(layer.baseKey());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read weights blob " + blobSha, e);
        }
    }

    /** Adapter tensors in the wire / blob naming. */
    public static Map<String, INDArray> adapterTensors(Map<String, LoraFactors> factors, List<LayerShape> layers) {
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (LayerShape l : layers) {
            LoraFactors f = factors.get(l.module());
            out.put(l.loraA(), f.a());
            out.put(l.loraB(), f.b());
        }
        return out;
    }
}
