package io.fedlora.agent.train;

/**
 * Held-out quality: mean token cross-entropy over completion tokens and the fraction of examples whose completion
 * (with its EOS) is predicted exactly by teacher-forced greedy decoding. NaN for both when there is nothing to score.
 */
public record EvalResult(long numExamples, double loss, double accuracy) {
}
