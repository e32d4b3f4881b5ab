package io.fedlora.demo.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.proto.v1.TensorMeta;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Command-line refusals of {@code bench federation} and the determinism its exactness check relies on. */
class BenchFederationCliTest {

    private static int run(List<String> args, ByteArrayOutputStream out, ByteArrayOutputStream err) {
        return BenchFederationCli.run(args, new PrintStream(out, true), new PrintStream(err, true));
    }

    @Test
    void badCommandLinesAreRefusedWithUsageOnStderrAndNothingOnStdout() throws Exception {
        Path notModel = Files.createTempDirectory("not-a-model");
        for (List<String> args : List.<List<String>>of(List.of(), List.of("--clients", "0", "--model", "x"),
                List.of("--clients", "3"), List.of("--clients", "3", "--model", notModel.toString()),
                List.of("--clients", "3", "--model", notModel.toString(), "--bogus"))) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            assertThat(run(args, out, err)).as("%s", args).isEqualTo(2);
            assertThat(out.size()).isZero();
            assertThat(err.toString()).contains("usage: fedlora bench federation");
        }
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
