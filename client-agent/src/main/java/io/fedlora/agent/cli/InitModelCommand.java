package io.fedlora.agent.cli;

import io.fedlora.agent.daemon.NativeThreads;
import io.fedlora.agent.initmodel.InitModel;
import io.fedlora.cli.FedloraVersion;
import io.fedlora.cli.PositiveInteger;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

/** {@code init-model}: a small pre-trained model (GPT-2 or Llama layout) and per-client non-IID datasets. */
@Command(name = "init-model", mixinStandardHelpOptions = true, versionProvider = FedloraVersion.class,
        description = {"Writes a small pre-trained model of the chosen family (DIR/model) and non-IID client datasets",
                "(DIR/clients/client-1 .. client-N, each train.jsonl + eval.jsonl)."})
final class InitModelCommand implements Callable<Integer> {

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "output directory")
    Path out;

    @Option(names = "--family", paramLabel = "FAMILY", defaultValue = "gpt2",
            description = "model family: gpt2 or llama (default ${DEFAULT-VALUE})")
    String family;

    @Option(names = "--clients", paramLabel = "N", defaultValue = "3", converter = PositiveInteger.class,
            description = "client datasets to write (default ${DEFAULT-VALUE})")
    int clients;

    @Option(names = "--seed", paramLabel = "N", defaultValue = "42",
            description = "seed of the weights, the pre-training and the data (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "1", converter = PositiveInteger.class,
            description = "native (BLAS/OpenMP) threads; the model depends on it (default ${DEFAULT-VALUE})")
    int threads;

    @ParentCommand
    AgentCli root;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (!InitModel.FAMILIES.contains(family)) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                    "--family must be one of " + InitModel.FAMILIES + ", got '" + family + "'");
        }
        NativeThreads.apply(threads);
        InitModel.run(out, clients, seed, root.out, InitModel.Settings.defaults(), family);
        return 0;
    }
}
