package io.fedlora.aggregation.family;

import io.fedlora.aggregation.lora.LoraLayer;
import io.fedlora.aggregation.lora.LoraScaling;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A validated {@code config.json} of one family: everything the coordinator, the exports and the agents need to agree
 * on about a model without knowing its architecture: weight names and shapes, the adaptable modules with their layout,
 * default LoRA targets, the PEFT key prefix. Parsing one succeeds only for models the agents compute exactly as HF does.
 */
public interface ModelSpec {

    /** The family ({@link Gpt2Family#NAME}, {@link LlamaFamily#NAME}). */
    String family();

    /** {@code config.json}'s {@code model_type}. */
    String modelType();

    int numLayers();

    int vocabSize();

    /** Longest sequence the model computes exactly as HF does. */
    int maxPositions();

    /** Whether the LM head is the token embedding ({@code tie_word_embeddings}). */
    boolean tiedEmbeddings();

    /**
     * Every weight the model needs, in HF order, keyed by checkpoint name without {@link #optionalKeyPrefix()};
     * an untied head appears as {@code lm_head.weight}.
     */
    Map<String, long[]> weightShapes();

    /**
     * Prefix some checkpoints of the family put in front of every key and others omit ({@code transformer.} for
     * GPT-2, saved from {@code GPT2LMHeadModel} or {@code GPT2Model}); empty when keys are always complete.
     */
    String optionalKeyPrefix();

    /** Whether a checkpoint tensor is a known non-parameter (buffer) the model does not need. */
    boolean isIgnoredTensor(String key);

    /** The adaptable modules in model order. */
    List<AdaptableModule> adaptableModules();

    /** Targets used when none are given (PEFT's defaults for the architecture). */
    List<String> defaultTargets();

    /** Short names of the adaptable modules of one block, for error messages (e.g. {@code q_proj, k_proj, ...}). */
    List<String> targetNames();

    /**
     * Prefix of a module name inside a PEFT key after {@code base_model.model.}: PEFT wraps the
     * {@code *ForCausalLM} model, whose body is {@code transformer.} (GPT-2) or {@code model.} (Llama, already part
     * of the module name).
     */
    String peftModulePrefix();

    /** Block index of a module name of this family, or -1 when it is not inside a block. */
    int layerOf(String module);

    /** The modules the targets select (PEFT suffix matching), failing with field {@code targetModules} on a miss. */
    default List<AdaptableModule> resolveTargets(List<String> targets) {
        if (targets == null || targets.isEmpty()) {
            throw new UnsupportedModelException("targetModules", "no LoRA target modules given (e.g. " + defaultTargets() + ")");
        }
        List<AdaptableModule> out = new ArrayList<>();
        boolean[] used = new boolean[targets.size()];
        for (AdaptableModule m : adaptableModules()) {
            boolean match = false;
            for (int t = 0; t < targets.size(); t++) {
                if (m.matches(targets.get(t))) {
                    match = true;
                    used[t] = true;
                }
            }
            if (match) {
                out.add(m);
            }
        }
        for (int t = 0; t < targets.size(); t++) {
            if (!used[t]) {
                throw new UnsupportedModelException("targetModules", "'" + targets.get(t) + "' matches no adaptable module of this "
                        + family() + " model; its modules are " + targetNames());
            }
        }
        return out;
    }

    /** LoRA layers for the targets, in model order. */
    default List<LoraLayer> loraLayers(List<String> targets, int rank, LoraScaling scaling) {
        return resolveTargets(targets).stream().map(m -> m.toLoraLayer(rank, scaling)).toList();
    }
}
