package io.fedlora.agent.initmodel;

import java.util.SplittableRandom;

/**
 * The synthetic tasks of the demo federation: short prompt → completion pairs with one right answer, so exact-match
 * accuracy is measurable. Each client's data is dominated by one family (non-IID).
 */
public enum TaskFamily {
    /** {@code "12+7="} → {@code "19"} (operands 0–19). */
    ADDITION {
        @Override
        public TaskExample sample(SplittableRandom rng) {
            int a = rng.nextInt(20);
            int b = rng.nextInt(20);
            return new TaskExample(a + "+" + b + "=", Integer.toString(a + b), this);
        }
    },
    /** {@code "rev:abc="} → {@code "cba"} (3 lowercase letters). */
    REVERSAL {
        @Override
        public TaskExample sample(SplittableRandom rng) {
            String w = word(rng);
            return new TaskExample("rev:" + w + "=", new StringBuilder(w).reverse().toString(), this);
        }
    },
    /** {@code "up:abc="} → {@code "ABC"} (3 lowercase letters). */
    UPPERCASE {
        @Override
        public TaskExample sample(SplittableRandom rng) {
            String w = word(rng);
            return new TaskExample("up:" + w + "=", w.toUpperCase(java.util.Locale.ROOT), this);
        }
    };

    /**
     * Fixed-length words keep every family's answer at fixed positions, which a 2-layer model can learn within the
     * demo's budget; variable lengths need induction-style copying that takes far longer to emerge.
     */
    private static final int WORD_LENGTH = 3;

    /** One random example of this family. */
    public abstract TaskExample sample(SplittableRandom rng);

    private static String word(SplittableRandom rng) {
        int len = WORD_LENGTH;
        StringBuilder sb = new StringBuilder(len);
        for (int i = 0; i < len; i++) {
            sb.append((char) ('a' + rng.nextInt(26)));
        }
        return sb.toString();
    }
}
