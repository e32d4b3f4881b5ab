package io.fedlora.demo.run;

import java.nio.file.Path;
import java.util.List;

import io.fedlora.demo.admin.FederationSpec;
import io.fedlora.demo.cli.DemoOptions;

/**
 * The federation the demo creates: LoRA rank 8 / alpha 16 on {@code c_attn}, every client in every
 * round, a few local steps so a whole run takes a minute or two on a laptop.
 */
public final class DemoFederations {

    /** Round deadline: generous, the demo expects every client to report. */
    public static final int ROUND_DEADLINE_SECONDS = 300;

    private DemoFederations() {
    }

    public static FederationSpec spec(DemoOptions options, String strategy, Path baseModel) {
        return new FederationSpec(
                "demo-" + strategy + "-seed" + options.seed(),
                baseModel.toAbsolutePath().toString(),
                List.of("c_attn"),
                8,
                16,
                false,
                strategy,
                "examples",
                options.rounds(),
                new FederationSpec.ClientsPerRound(1.0, options.clients()),
                ROUND_DEADLINE_SECONDS,
                options.clients(),
                1,
                true,
                new FederationSpec.TrainingSpec(1, options.localSteps(), 8, options.learningRate(), 0.0, 1.0,
                        options.seed(), 64),
                1000.0);
    }
}
