package io.fedlora.coordinator.federation;

import com.fasterxml.jackson.annotation.JsonIgnore;
import io.swagger.v3.oas.annotations.media.Schema;
import jakarta.validation.Valid;
import jakarta.validation.constraints.AssertTrue;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotEmpty;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Positive;
import jakarta.validation.constraints.Size;
import java.util.List;

/**
 * What an admin asks for when creating a federation (CONTRACTS.md "REST admin API"). Only {@code name} and the
 * base model are required: {@code baseModelPath} (an HF directory on the coordinator) or {@code baseModel} (a
 * name registered under {@code /api/v1/base-models}), exactly one; the rest default to the documented values.
 */
public record FederationSpec(
        @NotBlank @Size(max = 200) String name,
        @Schema(nullable = true, description = "an HF model directory on the coordinator; give it or baseModel")
        String baseModelPath,
        @NotEmpty List<@NotBlank @Pattern(regexp = "[A-Za-z0-9_.]+") String> targetModules,
        @Min(1) @Max(1024) Integer rank,
        @Positive @Schema(minimum = "0", exclusiveMinimum = true) Double alpha,
        Boolean useRslora,
        @Pattern(regexp = "fedex|fedit|ffa", message = "must be one of fedex, fedit, ffa") String strategy,
        @Pattern(regexp = "examples|uniform", message = "must be examples or uniform") String weighting,
        @Min(1) @Max(100000) Integer rounds,
        @Valid ClientsPerRound clientsPerRound,
        @Min(1) @Max(604800) Integer roundDeadlineSeconds,
        @Min(1) Integer minClients,
        @Min(0) @Max(100) Integer maxRoundRetries,
        Boolean evaluate,
        @Valid TrainingSpec training,
        @Positive @Schema(minimum = "0", exclusiveMinimum = true) Double maxUpdateNorm,
        @Schema(nullable = true, description = "a name registered under /api/v1/base-models; give it or baseModelPath")
        String baseModel,
        @Min(1) @Max(MAX_EXAMPLES_LIMIT) @Schema(description = "the largest num_examples one update or evaluation may"
                + " declare (default 10,000,000); larger ones are refused with INVALID_ARGUMENT", minimum = "1")
        Long maxExamplesPerUpdate) {

    /** The default bound on a declared example count. */
    public static final long DEFAULT_MAX_EXAMPLES_PER_UPDATE = 10_000_000L;
    /**
     * The highest bound an admin may set: 2^40 examples per update keeps the sum over any realistic number of
     * clients far inside a long, and example weights exact in a double.
     */
    public static final long MAX_EXAMPLES_LIMIT = 1L << 40;

    /** A spec naming its base model by directory path. */
    public FederationSpec(String name, String baseModelPath, List<String> targetModules, Integer rank, Double alpha,
                          Boolean useRslora, String strategy, String weighting, Integer rounds,
                          ClientsPerRound clientsPerRound, Integer roundDeadlineSeconds, Integer minClients,
                          Integer maxRoundRetries, Boolean evaluate, TrainingSpec training, Double maxUpdateNorm) {
        this(name, baseModelPath, targetModules, rank, alpha, useRslora, strategy, weighting, rounds, clientsPerRound,
                roundDeadlineSeconds, minClients, maxRoundRetries, evaluate, training, maxUpdateNorm, null, null);
    }

    /** A spec with the default bound on declared example counts. */
    public FederationSpec(String name, String baseModelPath, List<String> targetModules, Integer rank, Double alpha,
                          Boolean useRslora, String strategy, String weighting, Integer rounds,
                          ClientsPerRound clientsPerRound, Integer roundDeadlineSeconds, Integer minClients,
                          Integer maxRoundRetries, Boolean evaluate, TrainingSpec training, Double maxUpdateNorm,
                          String baseModel) {
        this(name, baseModelPath, targetModules, rank, alpha, useRslora, strategy, weighting, rounds, clientsPerRound,
                roundDeadlineSeconds, minClients, maxRoundRetries, evaluate, training, maxUpdateNorm, baseModel, null);
    }

    public FederationSpec {
        baseModelPath = baseModelPath == null || baseModelPath.isBlank() ? null : baseModelPath;
        baseModel = baseModel == null || baseModel.isBlank() ? null : baseModel;
        targetModules = targetModules == null ? List.of("c_attn") : List.copyOf(targetModules);
        rank = rank == null ? 8 : rank;
        alpha = alpha == null ? 16.0 : alpha;
        useRslora = useRslora != null && useRslora;
        strategy = strategy == null ? "fedex" : strategy;
        weighting = weighting == null ? "examples" : weighting;
        rounds = rounds == null ? 3 : rounds;
        clientsPerRound = clientsPerRound == null ? new ClientsPerRound(1.0, 2) : clientsPerRound;
        roundDeadlineSeconds = roundDeadlineSeconds == null ? 120 : roundDeadlineSeconds;
        minClients = minClients == null ? 2 : minClients;
        maxRoundRetries = maxRoundRetries == null ? 2 : maxRoundRetries;
        evaluate = evaluate == null || evaluate;
        training = training == null ? TrainingSpec.defaults() : training;
        maxUpdateNorm = maxUpdateNorm == null ? 1000.0 : maxUpdateNorm;
        maxExamplesPerUpdate = maxExamplesPerUpdate == null ? DEFAULT_MAX_EXAMPLES_PER_UPDATE : maxExamplesPerUpdate;
    }

    /** The base model is named exactly once: by directory or by registered name. */
    @JsonIgnore
    @AssertTrue(message = "give exactly one of baseModelPath (an HF directory on the coordinator) and baseModel"
            + " (a registered name)")
    public boolean isBaseModelGivenOnce() {
        return (baseModelPath == null) != (baseModel == null);
    }

    /** How the base model is named, for logs, the audit log and PEFT's base_model_name_or_path. */
    @JsonIgnore
    public String baseModelDescription() {
        return baseModel != null ? baseModel : baseModelPath;
    }

    /** A round can only aggregate when at least {@code minClients} were selected. */
    @JsonIgnore
    @AssertTrue(message = "minClients must not exceed clientsPerRound.minimum")
    public boolean isMinClientsWithinMinimum() {
        return clientsPerRound.minimum() == null || minClients <= clientsPerRound.minimum();
    }

    /** Fraction of eligible clients selected each round, but never fewer than {@code minimum}. */
    public record ClientsPerRound(
            @DecimalMin(value = "0.0", inclusive = false) @DecimalMax("1.0") @Schema(exclusiveMinimum = true) Double fraction,
            @Min(1) Integer minimum) {
        public ClientsPerRound {
            fraction = fraction == null ? 1.0 : fraction;
            minimum = minimum == null ? 2 : minimum;
        }
    }

    /** Local training hyper-parameters sent to clients in every TRAIN task. */
    public record TrainingSpec(
            @Min(0) Integer localEpochs,
            @Min(0) Integer localSteps,
            @Min(1) @Max(65536) Integer batchSize,
            @Positive @Schema(minimum = "0", exclusiveMinimum = true) Double learningRate,
            @DecimalMin("0.0") Double weightDecay,
            @DecimalMin("0.0") Double maxGradNorm,
            Long seed,
            @Min(2) @Max(1048576) Integer maxSeqLen) {

        public TrainingSpec {
            localEpochs = localEpochs == null ? 1 : localEpochs;
            localSteps = localSteps == null ? 0 : localSteps;
            batchSize = batchSize == null ? 8 : batchSize;
            learningRate = learningRate == null ? 1e-3 : learningRate;
            weightDecay = weightDecay == null ? 0.0 : weightDecay;
            maxGradNorm = maxGradNorm == null ? 1.0 : maxGradNorm;
            seed = seed == null ? 42L : seed;
            maxSeqLen = maxSeqLen == null ? 64 : maxSeqLen;
        }

        static TrainingSpec defaults() {
            return new TrainingSpec(null, null, null, null, null, null, null, null);
        }

        /** Either epochs or steps must make the client train at all. */
        @JsonIgnore
        @AssertTrue(message = "localEpochs or localSteps must be positive")
        public boolean isLocalEpochsOrSteps() {
            return localEpochs > 0 || localSteps > 0;
        }
    }
}
