package io.fedlora.agent.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The tokenizer of the models {@code init-model} writes: one id per UTF-8 byte (0–255), then special tokens;
 * EOS is id 256. Ids above 256 (a config may reserve more) decode to nothing.
 */
public final class ByteTokenizer implements Tokenizer {

    /** Bytes plus EOS. */
    public static final int MIN_VOCAB = 257;
    public static final int EOS_ID = 256;

    private final int vocabSize;

    public ByteTokenizer(int vocabSize) {
        if (vocabSize < MIN_VOCAB) {
            throw new IllegalArgumentException("a byte-level vocabulary needs at least " + MIN_VOCAB + " ids, got " + vocabSize);
        }
        this.vocabSize = vocabSize;
    }

    @Override
    public int[] encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            ids[i] = bytes[i] & 0xff;
        }
        return ids;
    }

    @Override
    public String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length);
        for (int id : ids) {
            if (id < 0 || id >= vocabSize) {
                throw new IllegalArgumentException("token id " + id + " outside the vocabulary of " + vocabSize);
            }
            if (id < 256) {
                out.write(id);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    @Override
    public int eosId() {
        return EOS_ID;
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }
}
