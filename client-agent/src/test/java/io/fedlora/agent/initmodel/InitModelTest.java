package io.fedlora.agent.initmodel;

import io.fedlora.agent.data.BadLinePolicy;
import io.fedlora.agent.data.JsonlDataset;
import io.fedlora.agent.model.Gpt2Config;
import io.fedlora.agent.model.Gpt2Model;
import io.fedlora.agent.tokenizer.Tokenizers;
import io.fedlora.agent.daemon.NativeThreads;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class InitModelTest {

    @BeforeAll
    static void oneNativeThread() {
        // tiny ops gain nothing from OpenMP, and its barriers stall on a shared 2-core box
        NativeThreads.apply(1);
    }


    /** A smaller, shorter variant of the default so the test stays fast; the code path is the same. */
    private static final InitModel.Settings SMALL = new InitModel.Settings(
            new Gpt2Config(1, 2, 32, 32, 257, 1e-5), 60, 16, 3e-3, 600, 60, 20, 0.8);

    @TempDir
    Path dir;

    @Test
    void writesAModelBetterThanUniformAndDeterministicNonIidDatasets() throws IOException {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        InitModel.Summary s = InitModel.run(dir.resolve("a"), 3, 7, new PrintStream(log, true), SMALL);
        assertThat(log.toString()).contains("step 60/60").contains("client-3");
        assertThat(s.baseLoss()).isLessThan(s.uniformLoss()).isLessThan(Math.log(257) + 1e-9);

        Gpt2Model model = Gpt2Model.load(dir.resolve("a/model"));
        assertThat(model.config()).isEqualTo(SMALL.config());
        for (int i = 1; i <= 3; i++) {
            Path client = dir.resolve("a/clients/client-" + i);
            JsonlDataset train = JsonlDataset.read(client.resolve("train.jsonl"), Tokenizers.forModelDir(dir.resolve("a/model")), 64,
                    BadLinePolicy.FAIL);
            assertThat(train.size()).isEqualTo(60);
            assertThat(Files.readAllLines(client.resolve("eval.jsonl"))).hasSize(20);
        }
        // non-IID: each client is dominated by its own family
        assertThat(share(dir.resolve("a/clients/client-1/train.jsonl"), "+")).isGreaterThan(0.6);
        assertThat(share(dir.resolve("a/clients/client-2/train.jsonl"), "rev:")).isGreaterThan(0.6);
        assertThat(share(dir.resolve("a/clients/client-3/train.jsonl"), "up:")).isGreaterThan(0.6);

        InitModel.run(dir.resolve("b"), 3, 7, new PrintStream(new ByteArrayOutputStream()), SMALL);
        for (String f : List.of("clients/client-1/train.jsonl", "clients/client-2/eval.jsonl", "model/config.json", "model/model.safetensors")) {
            assertThat(Files.readAllBytes(dir.resolve("b").resolve(f))).as(f).isEqualTo(Files.readAllBytes(dir.resolve("a").resolve(f)));
        }
        InitModel.run(dir.resolve("c"), 1, 8, new PrintStream(new ByteArrayOutputStream()), SMALL);
        assertThat(Files.readAllBytes(dir.resolve("c/clients/client-1/train.jsonl")))
                .isNotEqualTo(Files.readAllBytes(dir.resolve("a/clients/client-1/train.jsonl")));
    }

    @Test
    void writesALlamaLayoutModelWithATokenizerJsonThatTrainsWithLora() throws IOException {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        InitModel.Summary s = InitModel.run(dir.resolve("l"), 2, 7, new PrintStream(log, true), SMALL, "llama");
        assertThat(log.toString()).contains("Llama").contains("step 60/60");
        assertThat(s.baseLoss()).isLessThan(s.uniformLoss());
        Path modelDir = dir.resolve("l/model");
        assertThat(modelDir.resolve("tokenizer.json")).exists();
        io.fedlora.agent.model.CausalLm model = io.fedlora.agent.model.CausalLms.load(modelDir);
        assertThat(model).isInstanceOf(io.fedlora.agent.model.LlamaModel.class);
        assertThat(model.spec().tiedEmbeddings()).isFalse();
        assertThat(model.spec().weightShapes()).containsKey("lm_head.weight");
        try (io.fedlora.agent.tokenizer.Tokenizer t = Tokenizers.forModelDir(modelDir)) {
            assertThat(t).isInstanceOf(io.fedlora.agent.tokenizer.HfJsonTokenizer.class);
            assertThat(t.eosId()).isEqualTo(2);
            assertThat(t.decode(t.encode("rev: abc -> cba"))).isEqualTo("rev: abc -> cba");
            JsonlDataset train = JsonlDataset.read(dir.resolve("l/clients/client-1/train.jsonl"), t, 64, BadLinePolicy.FAIL);
            var cfg = new io.fedlora.agent.train.TrainingConfig(List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                    "up_proj", "down_proj"), 4, 8, false, false, 1, 3, 8, 1e-2, 0.0, 1.0, 1, 64);
            var result = new io.fedlora.agent.train.LoraTrainer(model, cfg).train(java.util.Map.of(), train, (a, b, c, d) -> { });
            assertThat(result.factors()).hasSize(7);
            assertThat(result.factors().get("model.layers.0.self_attn.k_proj").b().shape()).containsExactly(16, 4);
            assertThat(result.metrics().get("train_loss")).isFinite();
        }
    }

    private static double share(Path jsonl, String marker) throws IOException {
        List<String> lines = Files.readAllLines(jsonl);
        return lines.stream().filter(l -> l.contains(marker)).count() / (double) lines.size();
    }
}
