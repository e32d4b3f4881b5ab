package io.fedlora.demo.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;

class DemoArgsTest {

    @Test
    void noArgumentsGiveTheDefaults() throws Exception {
        DemoOptions o = DemoArgs.parse(List.of()).options().orElseThrow();
        assertThat(o).isEqualTo(DemoOptions.defaults());
        assertThat(o.clients()).isEqualTo(3);
        assertThat(o.rounds()).isEqualTo(5);
        assertThat(o.strategy()).isEqualTo("fedex");
        assertThat(o.seed()).isEqualTo(42);
        assertThat(o.localSteps()).isEqualTo(150);
        assertThat(o.learningRate()).isEqualTo(0.005);
        assertThat(DemoArgs.USAGE).contains("federated rounds (default 5)").contains("per round (default 150)")
                .contains("learning rate (default 0.005)");
        assertThat(o.strategiesToRun()).containsExactly("fedex");
    }

    @Test
    void parsesEveryOptionInBothSyntaxes() throws Exception {
        DemoOptions o = DemoArgs.parse(List.of("--clients", "5", "--rounds=2", "--strategy", "FFA", "--seed", "7",
                "--json", "--work-dir", "/tmp/x", "--keep", "--local-steps=3", "--lr", "0.01")).options().orElseThrow();
        assertThat(o.clients()).isEqualTo(5);
        assertThat(o.rounds()).isEqualTo(2);
        assertThat(o.strategy()).isEqualTo("ffa");
        assertThat(o.seed()).isEqualTo(7);
        assertThat(o.json()).isTrue();
        assertThat(o.keep()).isTrue();
        assertThat(o.compare()).isFalse();
        assertThat(o.workDir()).contains(Path.of("/tmp/x"));
        assertThat(o.localSteps()).isEqualTo(3);
        assertThat(o.learningRate()).isEqualTo(0.01);
    }

    @Test
    void compareRunsFedexThenFedit() throws Exception {
        DemoOptions o = DemoArgs.parse(List.of("--compare", "--strategy", "ffa")).options().orElseThrow();
        assertThat(o.strategiesToRun()).containsExactly("fedex", "fedit");
    }

    @Test
    void helpIsRecognised() throws Exception {
        assertThat(DemoArgs.parse(List.of("--clients", "2", "-h")).helpRequested()).isTrue();
        assertThat(DemoArgs.parse(List.of("--help")).options()).isEmpty();
    }

    @Test
    void rejectsBadInputWithAClearMessage() {
        assertThatThrownBy(() -> DemoArgs.parse(List.of("--clients", "zero")))
                .isInstanceOf(UsageException.class).hasMessageContaining("--clients").hasMessageContaining("zero");
        assertThatThrownBy(() -> DemoArgs.parse(List.of("--clients", "0")))
                .isInstanceOf(UsageException.class).hasMessageContaining("at least 1");
        assertThatThrownBy(() -> DemoArgs.parse(List.of("--strategy", "fedprox")))
                .isInstanceOf(UsageException.class).hasMessageContaining("fedprox").hasMessageContaining("fedex");
        assertThatThrownBy(() -> DemoArgs.parse(List.of("--rounds")))
                .isInstanceOf(UsageException.class).hasMessageContaining("missing value after --rounds");
        assertThatThrownBy(() -> DemoArgs.parse(List.of("--frobnicate")))
                .isInstanceOf(UsageException.class).hasMessageContaining("unknown option '--frobnicate'");
        assertThatThrownBy(() -> DemoArgs.parse(List.of("--json=yes")))
                .isInstanceOf(UsageException.class).hasMessageContaining("--json takes no value");
        assertThatThrownBy(() -> DemoArgs.parse(List.of("--lr", "-1")))
                .isInstanceOf(UsageException.class).hasMessageContaining("--lr");
    }
}
