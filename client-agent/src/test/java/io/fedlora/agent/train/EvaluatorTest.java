package io.fedlora.agent.train;

import io.fedlora.agent.daemon.NativeThreads;
import io.fedlora.agent.data.Example;
import io.fedlora.agent.data.JsonlDataset;
import io.fedlora.agent.model.Gpt2Config;
import io.fedlora.agent.model.Gpt2Model;
import io.fedlora.agent.model.Gpt2Network;
import io.fedlora.agent.model.TokenBatch;
import io.fedlora.aggregation.lora.LoraFactors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Exact match as the evaluator computes it (one teacher-forced pass) equals token-by-token greedy decoding. */
class EvaluatorTest {

    private static final Gpt2Config CONFIG = new Gpt2Config(1, 2, 16, 16, 257, 1e-5);

    @BeforeAll
    static void oneNativeThread() {
        NativeThreads.apply(1);
    }

    @Test
    void exactMatchEqualsGreedyDecodingAndTrainingRaisesIt() {
        Gpt2Model base = Gpt2Model.initialise(CONFIG, 21);
        base.weight("wte.weight").muli(25);
        List<Example> examples = new ArrayList<>();
        String letters = "abcdefghijkl";
        for (int i = 0; i < 12; i++) {
            char x = letters.charAt(i);
            examples.add(new Example(new int[]{'u', x, '=', Character.toUpperCase(x), 256}, 3));
        }
        JsonlDataset data = JsonlDataset.of("upper", examples);
        TrainingConfig cfg = new TrainingConfig(List.of("c_attn", "c_fc"), 4, 8, false, false, 1, 60, 6, 2e-2, 0.0, 1.0, 2, 16);
        Map<String, LoraFactors> trained = new LoraTrainer(base, cfg).train(Map.of(), data, TrainingListener.none()).factors();

        Evaluator evaluator = new Evaluator(5);
        EvalResult before = evaluator.evaluate(base, Map.of(), cfg.scaling(), data);
        EvalResult after = evaluator.evaluate(base, trained, cfg.scaling(), data);
        assertThat(after.numExamples()).isEqualTo(12);
        assertThat(after.loss()).isLessThan(before.loss());
        assertThat(after.accuracy()).isGreaterThan(before.accuracy());

        Gpt2Network network = new Gpt2Network(base, trained, cfg.scaling().scale());
        long greedyMatches = examples.stream().filter(e -> greedyReproduces(network, e)).count();
        assertThat(after.accuracy()).isEqualTo(greedyMatches / 12.0);
    }

    /** Generates after the prompt, one argmax token at a time, and compares with the completion + EOS. */
    private static boolean greedyReproduces(Gpt2Network network, Example e) {
        int[] seq = Arrays.copyOf(e.tokens(), e.firstTarget());
        for (int p = e.firstTarget(); p < e.tokens().length; p++) {
            int[] withDummy = Arrays.copyOf(seq, seq.length + 1);
            INDArray logits = network.logits(TokenBatch.of(List.of(withDummy), List.of(1)));
            int next = Nd4j.argMax(logits.getRow(seq.length - 1)).getInt(0);
            if (next != e.tokens()[p]) {
                return false;
            }
            seq = Arrays.copyOf(seq, seq.length + 1);
            seq[seq.length - 1] = next;
        }
        return true;
    }
}
