package io.fedlora.agent.train;

/** Progress of local training, called after every optimiser step (the daemon decides what to log). */
@FunctionalInterface
public interface TrainingListener {

    void onStep(int step, int totalSteps, double loss, double tokensPerSecond);

    /** A listener that ignores progress. */
    static TrainingListener none() {
        return (step, total, loss, tps) -> { };
    }
}
