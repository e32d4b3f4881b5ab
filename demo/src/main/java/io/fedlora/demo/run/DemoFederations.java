package io.fedlora.demo.run;

import java.nio.file.Path;
import java.util.List;

import io.fedlora.demo.admin.FederationSpec;
import io.fedlora.demo.cli.DemoOptions;

/**
 * The one place that defines the federation the demo creates: LoRA rank 8 / alpha 16 on every projection of the
 * 2-layer init-model (attention {@code c_attn}, {@code c_proj}, MLP {@code c_fc}), every client in every round,
 * batches of 8. Adapters on the MLP as well as on attention matter on this small base: with {@code c_attn} alone
 * the clients' own-family accuracy crept up a few points in a whole run. Local steps and learning rate come from
 * the command line ({@link DemoOptions#defaults()}: three epochs of each client's 400 examples at 5e-3 per round).
 */
public final class DemoFederations {

    /** Round deadline: generous, the demo expects every client to report. */
    public static final int ROUND_DEADLINE_SECONDS = 300;
    /** PEFT-style targets; {@code c_proj} covers both {@code attn.c_proj} and {@code mlp.c_proj}. */
    public static final List<String> TARGET_MODULES = List.of("c_attn", "c_proj", "c_fc");
    /** The same coverage on a Llama-layout model: every attention and MLP projection ({@code nn.Linear}). */
    public static final List<String> LLAMA_TARGET_MODULES =
            List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj");
    public static final int RANK = 8;
    public static final double ALPHA = 16;
    public static final int BATCH_SIZE = 8;
    public static final double MAX_GRAD_NORM = 1.0;
    /** init-model's examples are at most 12 tokens; its model takes 64 positions. */
    public static final int MAX_SEQ_LEN = 64;
    /** Per-tensor L2 bound the coordinator enforces on uploads: far above what a demo run produces. */
    public static final double MAX_UPDATE_NORM = 1000.0;

    private DemoFederations() {
    }

    public static FederationSpec spec(DemoOptions options, String strategy, Path baseModel) {
        return new FederationSpec(
                "demo-" + strategy + ("gpt2".equals(options.family()) ? "" : "-" + options.family()) + "-seed" + options.seed(),
                baseModel.toAbsolutePath().toString(),
                "llama".equals(options.family()) ? LLAMA_TARGET_MODULES : TARGET_MODULES,
                RANK,
                ALPHA,
                false,
                strategy,
                "examples",
                options.rounds(),
                new FederationSpec.ClientsPerRound(1.0, options.clients()),
                ROUND_DEADLINE_SECONDS,
                options.clients(),
                1,
                true,
                new FederationSpec.TrainingSpec(1, options.localSteps(), BATCH_SIZE, options.learningRate(), 0.0,
                        MAX_GRAD_NORM, options.seed(), MAX_SEQ_LEN),
                MAX_UPDATE_NORM);
    }
}
