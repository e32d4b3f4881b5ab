package io.fedlora.coordinator.round;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Picks a round's participants: {@code ceil(fraction * eligible)} clients, but at least {@code minimum},
 * shuffled deterministically from the federation seed, round and attempt (so a re-run of the same
 * decision picks the same clients).
 */
public final class ClientSelector {

    private ClientSelector() {
    }

    public static List<String> select(List<String> eligibleSortedIds, double fraction, int minimum, long seed, int round,
            int attempt) {
        int n = eligibleSortedIds.size();
        int k = Math.min(n, Math.max(minimum, (int) Math.ceil(fraction * n - 1e-9)));
        List<String> shuffled = new ArrayList<>(eligibleSortedIds);
        Collections.shuffle(shuffled, new Random(seed * 1_000_003L + round * 7919L + attempt));
        List<String> chosen = new ArrayList<>(shuffled.subList(0, k));
        Collections.sort(chosen);
        return chosen;
    }
}
