package io.fedlora.agent.initmodel;

import io.fedlora.agent.data.Example;
import io.fedlora.agent.data.JsonlDataset;
import io.fedlora.agent.model.CausalLm;
import io.fedlora.agent.model.Gpt2Config;
import io.fedlora.agent.model.LlamaModel;
import io.fedlora.agent.tokenizer.HfJsonTokenizer;
import io.fedlora.aggregation.family.Gpt2Family;
import io.fedlora.aggregation.family.LlamaFamily;
import io.fedlora.agent.model.Gpt2Model;
import io.fedlora.agent.tokenizer.ByteTokenizer;
import io.fedlora.agent.tokenizer.Tokenizer;
import io.fedlora.agent.train.EvalResult;
import io.fedlora.agent.train.Evaluator;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * {@code ./fedlora init-model}: writes a small GPT-2 layout model (byte vocabulary) briefly pre-trained on the task
 * families, and per-client non-IID prompt/completion datasets, everything deterministic from the seed. The model
 * knows the format and some answers after pre-training; federated LoRA then has accuracy to gain.
 */
public final class InitModel {

    /**
     * @param config           the model's shape
     * @param pretrainSteps    full-weight AdamW steps
     * @param pretrainExamples size of the mixed pre-training corpus
     * @param trainPerClient   training examples per client
     * @param evalPerClient    held-out examples per client
     * @param dominantShare    fraction of a client's examples from its own family
     */
    public record Settings(Gpt2Config config, int pretrainSteps, int batchSize, double learningRate, int pretrainExamples,
                           int trainPerClient, int evalPerClient, double dominantShare) {

        /**
         * The demo's model: 2 layers, n_embd 64, 4 heads, 64 positions, 257 byte-level ids, 300 steps at peak lr 1e-2.
         * At 3e-3 the same 300 steps left the letters' output embeddings so close together that LoRA (which cannot
         * move the tied embedding or ln_f) stalled: adapters on every module overfitting 8 examples stopped at loss
         * 1.06 with every argmax right (p ≈ 0.2), against 0.27 on this base, and federated rounds barely moved.
         */
        public static Settings defaults() {
            return new Settings(new Gpt2Config(2, 4, 64, 64, ByteTokenizer.MIN_VOCAB, 1e-5), 300, 32, 1e-2, 3000, 400, 100, 0.8);
        }
    }

    /** What was written, with the base model's held-out quality (loss over completion tokens, exact match). */
    public record Summary(Path modelDir, List<Path> clientDirs, double baseLoss, double uniformLoss,
                          Map<TaskFamily, Double> baseAccuracy, double seconds) {
    }

    private InitModel() {
    }

    public static Summary run(Path out, int clients, long seed, PrintStream progress) {
        return run(out, clients, seed, progress, Settings.defaults());
    }

    public static Summary run(Path out, int clients, long seed, PrintStream progress, Settings settings) {
        return run(out, clients, seed, progress, settings, Gpt2Family.NAME);
    }

    /** The model families init-model can write. */
    public static final List<String> FAMILIES = List.of(Gpt2Family.NAME, LlamaFamily.NAME);

    /**
     * The Llama-layout counterpart of a GPT-2 settings' shape: same width, depth, heads and positions, two query heads
     * per key/value head, a SwiGLU MLP of about 8/3 the width, an untied head and the character tokenizer's vocabulary.
     */
    public static LlamaFamily.Spec llamaSpec(Gpt2Config c) {
        int inter = (int) Math.ceil(c.nEmbd() * 8.0 / 3 / 16) * 16;
        int kv = c.nHead() % 2 == 0 ? c.nHead() / 2 : c.nHead();
        return new LlamaFamily.Spec("llama", c.nEmbd(), inter, c.nLayer(), c.nHead(), kv, c.headDim(),
                CharTokenizerJson.vocabSize(), c.nPositions(), 1e-6, 10000.0, false, false, false);
    }

    /**
     * As {@link #run(Path, int, long, PrintStream, Settings)} for a family: {@code gpt2} (byte vocabulary, tied head) or
     * {@code llama} (a Llama-layout model of the same size with {@link #llamaSpec}, and a SentencePiece-style
     * {@code tokenizer.json} with byte fallback that HF's tokenizers load as they are).
     */
    public static Summary run(Path out, int clients, long seed, PrintStream progress, Settings settings, String family) {
        if (clients < 1) {
            throw new IllegalArgumentException("need at least one client, got " + clients);
        }
        if (!FAMILIES.contains(family)) {
            throw new IllegalArgumentException("unknown model family '" + family + "' (one of " + FAMILIES + ")");
        }
        long start = System.nanoTime();
        Gpt2Config config = settings.config();
        SplittableRandom root = new SplittableRandom(seed);
        Path modelDir = out.resolve("model");
        boolean llama = family.equals(LlamaFamily.NAME);
        Tokenizer tokenizer;
        CausalLm model;
        List<TaskExample> corpus = SyntheticTasks.mixed(settings.pretrainExamples(), root.split());
        long modelSeed = root.nextLong();
        if (llama) {
            LlamaFamily.Spec spec = llamaSpec(config);
            try {
                Files.createDirectories(modelDir);
                CharTokenizerJson.write(modelDir.resolve("tokenizer.json"));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write " + modelDir.resolve("tokenizer.json") + ": " + e.getMessage(), e);
            }
            tokenizer = HfJsonTokenizer.open(modelDir.resolve("tokenizer.json"), spec.vocabSize(), CharTokenizerJson.EOS);
            model = LlamaModel.initialise(spec, modelSeed);
            progress.printf("init-model: pre-training a %d-layer Llama (hidden %d, %d heads / %d key-value heads, SwiGLU %d,"
                            + " vocab %d, untied head) for %d steps on %d examples%n", spec.numLayers(), spec.hiddenSize(),
                    spec.numHeads(), spec.numKeyValueHeads(), spec.intermediateSize(), spec.vocabSize(),
                    settings.pretrainSteps(), corpus.size());
        } else {
            tokenizer = new ByteTokenizer(config.vocabSize());
            model = Gpt2Model.initialise(config, modelSeed);
            progress.printf("init-model: pre-training a %d-layer GPT-2 (n_embd %d, %d heads, vocab %d) for %d steps on %d examples%n",
                    config.nLayer(), config.nEmbd(), config.nHead(), config.vocabSize(), settings.pretrainSteps(), corpus.size());
        }
        try (tokenizer) {
            return train(out, clients, progress, settings, root, modelDir, tokenizer, model, corpus, start, llama);
        }
    }

    private static Summary train(Path out, int clients, PrintStream progress, Settings settings, SplittableRandom root,
                                 Path modelDir, Tokenizer tokenizer, CausalLm model, List<TaskExample> corpus, long start,
                                 boolean llama) {
        int every = Math.max(1, settings.pretrainSteps() / 10);
        double loss = new Pretrainer(settings.pretrainSteps(), settings.batchSize(), settings.learningRate(), 0.01)
                .train(model, asText(corpus, tokenizer, model.spec().maxPositions() + 1), root.nextLong(), (step, total, l) -> {
                    if (step % every == 0 || step == total) {
                        progress.printf("  step %d/%d loss %.4f%n", step, total, l);
                    }
                });
        model.save(modelDir);
        if (llama) {
            writeLlamaTokenIds(modelDir);
        }
        progress.printf("init-model: wrote %s (final pre-training loss %.4f)%n", modelDir, loss);

        List<Path> clientDirs = new ArrayList<>();
        try {
            for (int i = 1; i <= clients; i++) {
                SplittableRandom rng = root.split();
                Path dir = out.resolve("clients").resolve("client-" + i);
                SyntheticTasks.writeJsonl(dir.resolve("train.jsonl"),
                        SyntheticTasks.forClient(i, settings.trainPerClient(), settings.dominantShare(), rng));
                SyntheticTasks.writeJsonl(dir.resolve("eval.jsonl"),
                        SyntheticTasks.forClient(i, settings.evalPerClient(), settings.dominantShare(), rng));
                clientDirs.add(dir);
                progress.printf("init-model: wrote %s (%d train, %d eval, mostly %s)%n", dir, settings.trainPerClient(),
                        settings.evalPerClient(), SyntheticTasks.dominantFamily(i).name().toLowerCase(java.util.Locale.ROOT));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write client datasets under " + out + ": " + e.getMessage(), e);
        }

        Evaluator evaluator = new Evaluator(64);
        SplittableRandom heldOut = root.split();
        Map<TaskFamily, Double> accuracy = new EnumMap<>(TaskFamily.class);
        double lossSum = 0;
        for (TaskFamily f : TaskFamily.values()) {
            List<TaskExample> examples = new ArrayList<>();
            for (int i = 0; i < 100; i++) {
                examples.add(f.sample(heldOut));
            }
            EvalResult r = evaluator.evaluate(model, Map.of(), null, asCompletions("held-out", examples, tokenizer));
            accuracy.put(f, r.accuracy());
            lossSum += r.loss();
        }
        double baseLoss = lossSum / TaskFamily.values().length;
        double uniform = Math.log(model.spec().vocabSize());
        double seconds = (System.nanoTime() - start) / 1e9;
        progress.printf("init-model: base model held-out completion loss %.4f (uniform %.4f), exact match %s; %.1f s%n",
                baseLoss, uniform, accuracy, seconds);
        return new Summary(modelDir, clientDirs, baseLoss, uniform, accuracy, seconds);
    }

    /** BOS/EOS ids in config.json and the tokenizer_config.json transformers' AutoTokenizer needs. */
    private static void writeLlamaTokenIds(Path modelDir) {
        try {
            com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper()
                    .enable(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT);
            com.fasterxml.jackson.databind.node.ObjectNode cfg =
                    (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(modelDir.resolve("config.json").toFile());
            cfg.put("bos_token_id", CharTokenizerJson.BOS);
            cfg.put("eos_token_id", CharTokenizerJson.EOS);
            Files.writeString(modelDir.resolve("config.json"), json.writeValueAsString(cfg) + "\n");
            com.fasterxml.jackson.databind.node.ObjectNode tc = json.createObjectNode();
            tc.put("tokenizer_class", "PreTrainedTokenizerFast");
            tc.put("bos_token", "<s>");
            tc.put("eos_token", "</s>");
            tc.put("unk_token", "<unk>");
            tc.put("model_max_length", 1_000_000);
            Files.writeString(modelDir.resolve("tokenizer_config.json"), json.writeValueAsString(tc) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the token ids of " + modelDir + ": " + e.getMessage(), e);
        }
    }

    /** The corpus as plain text lines: every token after the first is a target, then EOS. */
    static JsonlDataset asText(List<TaskExample> examples, Tokenizer tokenizer, int maxLen) {
        List<Example> out = new ArrayList<>(examples.size());
        for (TaskExample e : examples) {
            int[] ids = tokenizer.encode(e.prompt() + e.completion());
            int[] seq = java.util.Arrays.copyOf(ids, Math.min(ids.length + 1, maxLen));
            if (seq.length == ids.length + 1) {
                seq[ids.length] = tokenizer.eosId();
            }
            out.add(new Example(seq, 1));
        }
        return JsonlDataset.of("pre-training corpus", out);
    }

    /** Prompt/completion examples scored on the completion and its EOS, as the clients' JSONL files are. */
    public static JsonlDataset asCompletions(String name, List<TaskExample> examples, Tokenizer tokenizer) {
        List<Example> out = new ArrayList<>(examples.size());
        for (TaskExample e : examples) {
            int[] p = tokenizer.encode(e.prompt());
            int[] c = tokenizer.encode(e.completion());
            int[] seq = new int[p.length + c.length + 1];
            System.arraycopy(p, 0, seq, 0, p.length);
            System.arraycopy(c, 0, seq, p.length, c.length);
            seq[seq.length - 1] = tokenizer.eosId();
            out.add(new Example(seq, p.length));
        }
        return JsonlDataset.of(name, out);
    }
}
