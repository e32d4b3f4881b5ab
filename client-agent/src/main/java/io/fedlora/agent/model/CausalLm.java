package io.fedlora.agent.model;

import io.fedlora.agent.model.ops.Parallel;
import io.fedlora.aggregation.family.ModelSpec;
import io.fedlora.aggregation.lora.LoraFactors;
import java.nio.file.Path;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The frozen weights of a causal LM of some family, with the family's description and a way to build the network
 * that trains LoRA adapters on it. The trainer, evaluator and daemon work only through this seam.
 */
public interface CausalLm {

    /** The validated family description (weight names, adaptable modules, limits). */
    ModelSpec spec();

    /** All weights by key (mutable arrays: the daemon folds residuals into them in place). */
    Map<String, INDArray> weights();

    /** One weight by key, failing with the key's name when absent. */
    default INDArray weight(String key) {
        INDArray w = weights().get(key);
        if (w == null) {
            throw new IllegalArgumentException("no weight '" + key + "'");
        }
        return w;
    }

    /** Element type of the weights (fp32 normally; fp64 for gradient checks). */
    DataType dataType();

    /** A deep copy in another element type. */
    CausalLm castTo(DataType type);

    /** The forward/backward network with these adapters (referenced, not copied) at scale {@code loraScale}. */
    LmNetwork network(Map<String, LoraFactors> adapters, double loraScale);

    /**
     * As {@link #network(Map, double)}, with the pool for the Java kernels and, with {@code checkpointing}, only each
     * block's input kept in training and the block recomputed in backward (less memory for long contexts).
     */
    LmNetwork network(Map<String, LoraFactors> adapters, double loraScale, Parallel par, boolean checkpointing);

    /** Writes {@code config.json} and an fp32 {@code model.safetensors}. */
    void save(Path dir);
}
