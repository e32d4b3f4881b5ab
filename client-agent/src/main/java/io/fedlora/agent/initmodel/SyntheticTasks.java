package io.fedlora.agent.initmodel;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Deterministic generators for the pre-training corpus (all families evenly) and the clients' non-IID datasets:
 * client {@code i} (1-based) draws {@code dominantShare} of its examples from family {@code (i−1) mod 3} and the rest
 * evenly from the others.
 */
public final class SyntheticTasks {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TaskFamily[] FAMILIES = TaskFamily.values();

    private SyntheticTasks() {
    }

    /** The family that dominates client {@code i} (1-based). */
    public static TaskFamily dominantFamily(int client) {
        return FAMILIES[(client - 1) % FAMILIES.length];
    }

    /** {@code count} examples with families in equal shares, from the given generator. */
    public static List<TaskExample> mixed(int count, SplittableRandom rng) {
        List<TaskExample> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            out.add(FAMILIES[rng.nextInt(FAMILIES.length)].sample(rng));
        }
        return out;
    }

    /** {@code count} examples for client {@code i}: its dominant family with probability {@code dominantShare}. */
    public static List<TaskExample> forClient(int client, int count, double dominantShare, SplittableRandom rng) {
        TaskFamily dominant = dominantFamily(client);
        List<TaskExample> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            TaskFamily f = dominant;
            if (rng.nextDouble() >= dominantShare) {
                f = FAMILIES[(dominant.ordinal() + 1 + rng.nextInt(FAMILIES.length - 1)) % FAMILIES.length];
            }
            out.add(f.sample(rng));
        }
        return out;
    }

    /** Writes {@code {"prompt","completion"}} lines. */
    public static void writeJsonl(Path file, List<TaskExample> examples) throws IOException {
        Files.createDirectories(file.getParent());
        try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            for (TaskExample e : examples) {
                ObjectNode n = JSON.createObjectNode();
                n.put("prompt", e.prompt());
                n.put("completion", e.completion());
                w.write(JSON.writeValueAsString(n));
                w.write('\n');
            }
        }
    }
}
