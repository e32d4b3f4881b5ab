package io.fedlora.agent.initmodel;

import java.util.SplittableRandom;

/**
 * The synthetic tasks of the demo federation: short prompt → completion pairs with one right answer, so exact-match
 * accuracy is measurable. Each client's data is dominated by one family (non-IID).
 */
public enum TaskFamily {
    /** {@code "12+7="} → {@code "19"} (operands 0–49). */
    ADDITION {
        @Override
        public TaskExample sample(SplittableRandom rng) {
            int a = rng.nextInt(50);
            int b = rng.nextInt(50);
            return new TaskExample(a + "+" + b + "=", Integer.toString(a + b), this);
        }
    },
    /** {@code "rev:abcd="} → {@code "dcba"} (3–5 lowercase letters). */
    REVERSAL {
        @Override
        public TaskExample sample(SplittableRandom rng) {
            String w = word(rng);
            return new TaskExample("rev:" + w + "=", new StringBuilder(w).reverse().toString(), this);
        }
    },
    /** {@code "up:abcd="} → {@code "ABCD"} (3–5 lowercase letters). */
    UPPERCASE {
        @Override
        public TaskExample sample(SplittableRandom rng) {
            String w = word(rng);
            return new TaskExample("up:" + w + "=", w.toUpperCase(java.util.Locale.ROOT), this);
        }
    };

    /** One random example of this family. */
    public abstract TaskExample sample(SplittableRandom rng);

    private static String word(SplittableRandom rng) {
        int len = 3 + rng.nextInt(3);
        StringBuilder sb = new StringBuilder(len);
        for (int i = 0; i < len; i++) {
            sb.append((char) ('a' + rng.nextInt(26)));
        }
        return sb.toString();
    }
}
