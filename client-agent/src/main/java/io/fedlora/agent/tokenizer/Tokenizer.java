package io.fedlora.agent.tokenizer;

/** Text ↔ token ids for a model's vocabulary. Some hold native resources: close them when done. */
public interface Tokenizer extends AutoCloseable {

    int[] encode(String text);

    String decode(int[] ids);

    /** The end-of-sequence id (also used as beginning-of-sequence where a prompt is empty). */
    int eosId();

    int vocabSize();

    /** Releases native resources, if any. */
    @Override
    default void close() {
    }
}
