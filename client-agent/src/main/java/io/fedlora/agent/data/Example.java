package io.fedlora.agent.data;

/**
 * One tokenised training example. Tokens from index {@code firstTarget} on are predicted and scored (the completion
 * and its EOS for prompt/completion data; everything after the first token for plain text).
 */
public record Example(int[] tokens, int firstTarget) {

    public Example {
        if (tokens.length < 2) {
            throw new IllegalArgumentException("an example needs at least two tokens");
        }
        if (firstTarget < 1 || firstTarget >= tokens.length) {
            throw new IllegalArgumentException("firstTarget " + firstTarget + " outside 1.." + (tokens.length - 1));
        }
    }

    /** Number of scored tokens. */
    public int targetCount() {
        return tokens.length - firstTarget;
    }
}
