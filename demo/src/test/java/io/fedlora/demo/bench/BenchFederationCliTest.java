package io.fedlora.demo.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.cli.FedloraVersion;
import io.fedlora.proto.v1.TensorMeta;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** Command-line contract of {@code bench federation} and the determinism its exactness check relies on. */
class BenchFederationCliTest {

    private String out;
    private String err;

    private int run(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int code = BenchFederationCli.run(List.of(args), new PrintStream(o, true, StandardCharsets.UTF_8),
                new PrintStream(e, true, StandardCharsets.UTF_8));
        out = o.toString(StandardCharsets.UTF_8);
        err = e.toString(StandardCharsets.UTF_8);
        return code;
    }

    private static Path model() throws Exception {
        return model("""
                {"model_type": "gpt2", "n_layer": 2, "n_head": 2, "n_embd": 8, "n_positions": 16, "vocab_size": 20}""");
    }

    private static Path llamaModel() throws Exception {
        return model("""
                {"model_type": "llama", "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 2,
                 "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 30, "max_position_embeddings": 32,
                 "rms_norm_eps": 1e-6, "rope_theta": 500000.0}""");
    }

    private static Path model(String config) throws Exception {
        Path dir = Files.createTempDirectory("bench-model");
        Files.writeString(dir.resolve("config.json"), config);
        return dir;
    }

    @Test
    void helpAndVersionExitZeroOnStdout() {
        assertThat(run("--help")).isZero();
        assertThat(out).startsWith("Usage: fedlora bench federation ").contains("--clients=N").contains("--model=DIR")
                .contains("--coordinator-heap=SIZE").contains("(default: the family's, c_attn for")
                .contains("GPT-2, q_proj,v_proj for Llama)").contains("(default 600)")
                .contains("Exit codes:");
        assertThat(err).isEmpty();
        assertThat(run("--version")).isZero();
        assertThat(out.strip()).isEqualTo("fedlora " + FedloraVersion.version());
    }

    @Test
    void badCommandLinesAreRefusedWithUsageOnStderrAndNothingOnStdout() throws Exception {
        Path notModel = Files.createTempDirectory("not-a-model");
        Path bert = model("{\"model_type\": \"bert\"}");
        String model = model().toString();
        record Case(List<String> args, String message) { }
        for (Case c : List.of(
                new Case(List.of(), "Missing required options"),
                new Case(List.of("--clients", "0", "--model", model), "must be positive"),
                new Case(List.of("--clients", "three", "--model", model), "'three' is not a whole number"),
                new Case(List.of("--clients", "3"), "Missing required option: '--model=DIR'"),
                new Case(List.of("--clients", "3", "--model", notModel.toString()), "not a model directory"),
                new Case(List.of("--clients", "3", "--model", bert.toString()), "model_type"),
                new Case(List.of("--clients", "3", "--model", model, "--targets", "q_proj"), "q_proj"),
                new Case(List.of("--clients", "3", "--model", model, "--bogus"), "Unknown option: '--bogus'"),
                new Case(List.of("--clients", "3", "--model", model, "--seed", "x"), "'--seed'"),
                new Case(List.of("--clients", "3", "--model", model, "--coordinator-heap", "lots"), "'--coordinator-heap'"),
                new Case(List.of("--clients", "3", "--model", model, "--targets", "a,,b"), "'--targets'"),
                new Case(List.of("--clients", "3", "--model", model, "--rounds"), "Missing required parameter"))) {
            assertThat(run(c.args().toArray(String[]::new))).as("%s", c.args()).isEqualTo(2);
            assertThat(out).as("%s", c.args()).isEmpty();
            assertThat(err).as("%s", c.args()).startsWith("error: ").contains(c.message())
                    .contains("Usage: fedlora bench federation");
        }
    }

    @Test
    void everyOptionKeepsItsDefaultAndParses() throws Exception {
        Path model = model();
        CommandLine cl = BenchFederationCli.commandLine();
        BenchFederationCli cli = cl.getCommand();
        cl.parseArgs("--clients", "4", "--model", model.toString());
        FederationBench.Options d = cli.options();
        assertThat(d.clients()).isEqualTo(4);
        assertThat(d.rounds()).isEqualTo(1);
        assertThat(d.targets()).containsExactly("c_attn");
        assertThat(d.rank()).isEqualTo(8);
        assertThat(d.seed()).isEqualTo(42);
        assertThat(d.deadlineSeconds()).isEqualTo(600);
        assertThat(d.coordinatorHeap()).isEqualTo("3g");
        assertThat(d.coordinatorJvmOptions()).isEmpty();
        assertThat(d.workDir()).as("no data dir is made by parsing; a run makes its own").isNull();
        assertThat(d.clientsHoldBase()).as("clients download the full state unless told otherwise").isFalse();

        cl = BenchFederationCli.commandLine();
        cli = cl.getCommand();
        Path work = Files.createTempDirectory("bench-work");
        cl.parseArgs("--clients=2", "--model", model.toString(), "--rounds", "3", "--targets", "c_attn,c_proj",
                "--rank=4", "--seed", "7", "--deadline", "30", "--coordinator-heap", "1500m", "--work", work.toString(),
                "--json", "--clients-hold-base", "--coordinator-jvm-option=-Xmn64m", "--coordinator-jvm-option",
                "-XX:NativeMemoryTracking=summary");
        FederationBench.Options o = cli.options();
        assertThat(o).isEqualTo(new FederationBench.Options(2, model, 3, List.of("c_attn", "c_proj"), 4, 7, 30, "1500m",
                List.of("-Xmn64m", "-XX:NativeMemoryTracking=summary"), work, true));
        assertThat(cli.json).isTrue();
    }

    @Test
    void targetsDefaultToTheModelFamilysOwn() throws Exception {
        CommandLine cl = BenchFederationCli.commandLine();
        BenchFederationCli cli = cl.getCommand();
        cl.parseArgs("--clients", "2", "--model", llamaModel().toString());
        FederationBench.Options parsed = cli.options();
        assertThat(parsed.targets()).containsExactly("q_proj", "v_proj");
    }

    @Test
    void clientFactorsAreAFunctionOfSeedClientRoundAndTensor() {
        TensorMeta m = TensorMeta.newBuilder().setName("h.0.attn.c_attn.lora_A").addShape(8).addShape(64).build();
        assertThat(ClientFactors.values(42, 3, 1, 0, m)).containsExactly(ClientFactors.values(42, 3, 1, 0, m));
        assertThat(ClientFactors.values(42, 3, 1, 0, m)).isNotEqualTo(ClientFactors.values(42, 4, 1, 0, m));
        assertThat(ClientFactors.values(42, 3, 1, 0, m)).isNotEqualTo(ClientFactors.values(42, 3, 2, 0, m));
        assertThat(ClientFactors.examples(42, 7)).isBetween(1L, 1000L).isEqualTo(ClientFactors.examples(42, 7));
    }
}
