package io.fedlora.agent.tokenizer;

/** Text ↔ token ids for a model's vocabulary. */
public interface Tokenizer {

    int[] encode(String text);

    String decode(int[] ids);

    /** The end-of-sequence id (also used as beginning-of-sequence where a prompt is empty). */
    int eosId();

    int vocabSize();
}
