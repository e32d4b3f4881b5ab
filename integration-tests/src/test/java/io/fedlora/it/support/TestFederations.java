package io.fedlora.it.support;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import io.fedlora.demo.admin.FederationSpec;
import io.fedlora.demo.run.FederationDriver;

/** Federation specs and agent layouts the end-to-end tests use: small, few local steps, short deadlines. */
public final class TestFederations {

    /** LoRA scale alpha / rank of every spec here (16 / 8, not rsLoRA). */
    public static final double SCALE = 16.0 / 8;

    private TestFederations() {
    }

    public static FederationSpec spec(String strategy, int rounds, int selectMinimum, int minClients,
                                      int deadlineSeconds, boolean evaluate, Path modelDir) {
        return spec(strategy, rounds, selectMinimum, minClients, deadlineSeconds, evaluate, modelDir, 4);
    }

    /** As above with {@code localSteps} optimiser steps per round (more steps: a longer window while an agent trains). */
    public static FederationSpec spec(String strategy, int rounds, int selectMinimum, int minClients,
                                      int deadlineSeconds, boolean evaluate, Path modelDir, int localSteps) {
        return spec(strategy, rounds, selectMinimum, minClients, deadlineSeconds, evaluate, modelDir, localSteps,
                List.of("c_attn"));
    }

    /** As above with LoRA on {@code targetModules} (PEFT names, e.g. {@code q_proj} on a Llama model). */
    public static FederationSpec spec(String strategy, int rounds, int selectMinimum, int minClients,
                                      int deadlineSeconds, boolean evaluate, Path modelDir, int localSteps,
                                      List<String> targetModules) {
        return new FederationSpec(
                "it-" + strategy + "-" + UUID.randomUUID().toString().substring(0, 8),
                modelDir.toAbsolutePath().toString(),
                targetModules, 8, 16, false, strategy, "examples", rounds,
                new FederationSpec.ClientsPerRound(1.0, selectMinimum), deadlineSeconds, minClients, 2, evaluate,
                new FederationSpec.TrainingSpec(1, localSteps, 8, 0.02, 0.0, 1.0, FederationEnvironment.SEED, 64),
                1000.0);
    }

    /** One agent per client dataset, each with its own work directory under {@code root}. */
    public static List<FederationDriver.AgentSpec> agents(FederationEnvironment env, String prefix, Path root, int count)
            throws InterruptedException {
        return agents(env, FederationEnvironment.GPT2, prefix, root, count);
    }

    /** As above on the datasets init-model wrote with {@code family}'s model. */
    public static List<FederationDriver.AgentSpec> agents(FederationEnvironment env, String family, String prefix, Path root,
                                                          int count) throws InterruptedException {
        List<FederationDriver.AgentSpec> agents = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            agents.add(new FederationDriver.AgentSpec(prefix + "-client-" + i, env.clientData(family, i),
                    root.resolve("agent-" + i)));
        }
        return agents;
    }
}
