package io.fedlora.demo.admin;

import java.util.List;

/**
 * The body of {@code POST /api/v1/federations} (see docs/CONTRACTS.md, "REST admin API"); field
 * names are the JSON names.
 */
public record FederationSpec(
        String name,
        String baseModelPath,
        List<String> targetModules,
        int rank,
        double alpha,
        boolean useRslora,
        String strategy,
        String weighting,
        int rounds,
        ClientsPerRound clientsPerRound,
        int roundDeadlineSeconds,
        int minClients,
        int maxRoundRetries,
        boolean evaluate,
        TrainingSpec training,
        double maxUpdateNorm) {

    public FederationSpec {
        targetModules = List.copyOf(targetModules);
    }

    /** Which clients a round selects: a fraction of the enrolled clients, but at least {@code minimum}. */
    public record ClientsPerRound(double fraction, int minimum) {
    }

    /** Local training hyper-parameters sent to every selected client. */
    public record TrainingSpec(int localEpochs, int localSteps, int batchSize, double learningRate,
                               double weightDecay, double maxGradNorm, long seed, int maxSeqLen) {
    }

    /** A copy with another name and strategy (for side-by-side comparisons on the same inputs). */
    public FederationSpec withStrategy(String newName, String newStrategy) {
        return new FederationSpec(newName, baseModelPath, targetModules, rank, alpha, useRslora, newStrategy, weighting,
                rounds, clientsPerRound, roundDeadlineSeconds, minClients, maxRoundRetries, evaluate, training,
                maxUpdateNorm);
    }

    /** A copy with another round deadline. */
    public FederationSpec withRoundDeadlineSeconds(int seconds) {
        return new FederationSpec(name, baseModelPath, targetModules, rank, alpha, useRslora, strategy, weighting,
                rounds, clientsPerRound, seconds, minClients, maxRoundRetries, evaluate, training, maxUpdateNorm);
    }

    /** A copy with another minimum of reporting clients per round. */
    public FederationSpec withMinClients(int minimum) {
        return new FederationSpec(name, baseModelPath, targetModules, rank, alpha, useRslora, strategy, weighting,
                rounds, new ClientsPerRound(clientsPerRound.fraction(), minimum), roundDeadlineSeconds, minimum,
                maxRoundRetries, evaluate, training, maxUpdateNorm);
    }
}
