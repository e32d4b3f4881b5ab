package io.fedlora.agent.model;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fedlora.agent.daemon.NativeThreads;
import io.fedlora.aggregation.family.Checkpoint;
import io.fedlora.aggregation.lora.LoraFactors;
import io.fedlora.aggregation.peft.PeftAdapter;
import io.fedlora.aggregation.peft.PeftAdapterReader;
import io.fedlora.aggregation.safetensors.SafetensorsReader;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * fedlora's networks against Hugging Face transformers + PEFT on the committed golden fixtures
 * ({@code scripts/hf-fixtures/make_fixtures.py}): tiny random models of each family and variant loaded from the
 * directories HF saved (GPT-2 tied and untied head, Llama with grouped-query attention, untied head and a sharded
 * checkpoint, Qwen2 with q/k/v biases and a tied head). Logits within 1e-4, HF's loss, the loss with a PEFT adapter
 * on several projections, and the adapter's gradients as torch autograd computed them.
 */
class HfGoldenFixtureTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @BeforeAll
    static void threads() {
        NativeThreads.apply(1);
    }

    private static Path fixture(String name) throws URISyntaxException {
        return Path.of(HfGoldenFixtureTest.class.getResource("/hf-fixtures/" + name + "/fixture.json").toURI()).getParent();
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2-tied", "gpt2-untied", "llama-gqa-untied", "qwen2-bias-tied"})
    void logitsLossAndLoraMatchHuggingFace(String name) throws Exception {
        Path dir = fixture(name);
        JsonNode fx = JSON.readTree(dir.resolve("fixture.json").toFile());
        CausalLm model = CausalLms.load(dir);
        List<int[]> seqs = new ArrayList<>();
        for (JsonNode row : fx.get("input_ids")) {
            int[] s = new int[row.size()];
            for (int i = 0; i < s.length; i++) {
                s[i] = row.get(i).asInt();
            }
            seqs.add(s);
        }
        TokenBatch batch = TokenBatch.of(seqs, List.of(1, 1));

        INDArray logits = model.network(Map.of(), 0.0).logits(batch);
        JsonNode expected = fx.get("logits");
        assertThat(logits.length()).isEqualTo(expected.size());
        double[] got = logits.reshape(logits.length()).toDoubleVector();
        double maxDiff = 0;
        for (int i = 0; i < got.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected.get(i).asDouble()));
        }
        double loss = model.network(Map.of(), 0.0).loss(batch);
        double lossDiff = Math.abs(loss - fx.get("loss").asDouble());

        PeftAdapter adapter = PeftAdapterReader.read(dir.resolve("adapter"));
        double scale = adapter.config().scaling().scale();
        double loraLoss = model.network(adapter.factors(), scale).loss(batch);
        double loraLossDiff = Math.abs(loraLoss - fx.get("lora_loss").asDouble());

        // gradients in fp64 against torch's fp32 autograd
        CausalLm model64 = model.castTo(DataType.DOUBLE);
        Map<String, LoraFactors> f64 = new LinkedHashMap<>();
        adapter.factors().forEach((k, f) -> f64.put(k, new LoraFactors(f.a().castTo(DataType.DOUBLE), f.b().castTo(DataType.DOUBLE))));
        Gradients g = model64.network(f64, scale).lossAndGradients(batch, GradientTarget.LORA);
        double gradRel = 0;
        int compared = 0;
        try (SafetensorsReader hf = SafetensorsReader.open(dir.resolve("lora_grads.safetensors"))) {
            for (String module : adapter.factors().keySet()) {
                for (String factor : List.of("lora_A", "lora_B")) {
                    String key = "base_model.model." + model.spec().peftModulePrefix() + module + "." + factor + ".default.weight";
                    INDArray want = hf.readFloat(key).castTo(DataType.DOUBLE);
                    INDArray mine = g.grads().get(module + "." + factor);
                    double err = mine.sub(want).norm2Number().doubleValue() / Math.max(1e-12, want.norm2Number().doubleValue());
                    gradRel = Math.max(gradRel, err);
                    compared++;
                }
            }
        }
        System.out.printf("golden %s: max|dlogit|=%.3g |dloss|=%.3g |dlora_loss|=%.3g max grad rel err=%.3g (%d tensors)%n",
                name, maxDiff, lossDiff, loraLossDiff, gradRel, compared);
        assertThat(maxDiff).as("max abs logit difference").isLessThanOrEqualTo(1e-4);
        assertThat(lossDiff).as("loss").isLessThanOrEqualTo(1e-5);
        assertThat(loraLossDiff).as("loss with the PEFT adapter").isLessThanOrEqualTo(1e-5);
        assertThat(compared).isEqualTo(2 * adapter.factors().size()).isPositive();
        // torch ran in fp32: its gradients carry ~1e-5..1e-4 relative rounding (largest in the lowest layer); a wrong
        // backward is off by O(1). The fp64 finite-difference checks pin the backward exactly.
        assertThat(gradRel).as("LoRA gradients vs torch autograd").isLessThanOrEqualTo(1e-3);
        assertThat(loraLoss).as("the adapter changes the model").isNotCloseTo(loss, org.assertj.core.data.Offset.offset(1e-3));
        if (fx.get("sharded").asBoolean()) {
            try (Checkpoint c = Checkpoint.open(dir)) {
                assertThat(c.sharded()).isTrue();
            }
        }
    }
}
