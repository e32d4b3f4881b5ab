package io.fedlora.agent.initmodel;

import io.fedlora.agent.data.Example;
import io.fedlora.agent.data.JsonlDataset;
import io.fedlora.agent.model.Gpt2Config;
import io.fedlora.agent.model.Gpt2Model;
import io.fedlora.agent.tokenizer.ByteTokenizer;
import io.fedlora.agent.tokenizer.Tokenizer;
import io.fedlora.agent.train.EvalResult;
import io.fedlora.agent.train.Evaluator;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
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
        if (clients < 1) {
            throw new IllegalArgumentException("need at least one client, got " + clients);
        }
        long start = System.nanoTime();
        Gpt2Config config = settings.config();
        Tokenizer tokenizer = new ByteTokenizer(config.vocabSize());
        SplittableRandom root = new SplittableRandom(seed);

        List<TaskExample> corpus = SyntheticTasks.mixed(settings.pretrainExamples(), root.split());
        Gpt2Model model = Gpt2Model.initialise(config, root.nextLong());
        progress.printf("init-model: pre-training a %d-layer GPT-2 (n_embd %d, %d heads, vocab %d) for %d steps on %d examples%n",
                config.nLayer(), config.nEmbd(), config.nHead(), config.vocabSize(), settings.pretrainSteps(), corpus.size());
        int every = Math.max(1, settings.pretrainSteps() / 10);
        double loss = new Pretrainer(settings.pretrainSteps(), settings.batchSize(), settings.learningRate(), 0.01)
                .train(model, asText(corpus, tokenizer, config.nPositions() + 1), root.nextLong(), (step, total, l) -> {
                    if (step % every == 0 || step == total) {
                        progress.printf("  step %d/%d loss %.4f%n", step, total, l);
                    }
                });
        Path modelDir = out.resolve("model");
        model.save(modelDir);
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
        double uniform = Math.log(config.vocabSize());
        double seconds = (System.nanoTime() - start) / 1e9;
        progress.printf("init-model: base model held-out completion loss %.4f (uniform %.4f), exact match %s; %.1f s%n",
                baseLoss, uniform, accuracy, seconds);
        return new Summary(modelDir, clientDirs, baseLoss, uniform, accuracy, seconds);
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
