package io.fedlora.demo.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import org.junit.jupiter.api.Test;

class ReportFormattingTest {

    static RunResult run(String strategy, double exactness, Double lastEvalLoss) {
        return new RunResult(strategy, "fed-" + strategy, "COMPLETED", List.of(
                new RoundResult(1, 3, 3, exactness, 2.5e-3, 3.25, 0.125, 41.6, 1536.0, 3.0 * 1024 * 1024, 3.4),
                new RoundResult(2, 2, 3, exactness, 1.0e-3, lastEvalLoss, null, null, null, 800.0, null)),
                Optional.of(Path.of("/w/export/model-v2")), 61.23);
    }

    @Test
    void formatsNumbersAndMissingValues() {
        assertThat(Formats.sci(1.234e-7)).isEqualTo("1.23e-07");
        assertThat(Formats.sci(null)).isEqualTo("-");
        assertThat(Formats.loss(3.14159)).isEqualTo("3.1416");
        assertThat(Formats.percent(0.1234)).isEqualTo("12.3%");
        assertThat(Formats.millis(41.6)).isEqualTo("42 ms");
        assertThat(Formats.bytes(800.0)).isEqualTo("800 B");
        assertThat(Formats.bytes(1536.0)).isEqualTo("1.5 KiB");
        assertThat(Formats.bytes(3.0 * 1024 * 1024)).isEqualTo("3.0 MiB");
    }

    @Test
    void textTableAlignsColumns() {
        String text = new TextTable(List.of("name", "value")).add(List.of("a", "1")).add(List.of("longer", "12345")).render();
        assertThat(text).isEqualTo("""
                name    value
                -------------
                a           1
                longer  12345
                """);
        assertThatThrownBy(() -> new TextTable(List.of("a", "b")).add(List.of("only one")))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void resultsTableHasOneLinePerRound() {
        String text = ResultsTable.render(run("fedex", 1.2e-7, 3.0));
        List<String> lines = text.lines().toList();
        assertThat(lines).hasSize(4);
        assertThat(lines.get(0)).startsWith("round").contains("exactness err", "FedAvg dev avoided", "eval loss", "down", "up");
        assertThat(lines.get(2)).startsWith("1").contains("3/3", "1.20e-07", "2.50e-03", "3.2500", "12.5%", "42 ms", "1.5 KiB", "3.0 MiB");
        assertThat(lines.get(3)).startsWith("2").contains("2/3", "-");
        assertThat(ResultsTable.render(run("fedit", 1e-3, 3.0))).contains("FedAvg deviation").doesNotContain("avoided");
    }

    @Test
    void compareTableShowsRunsSideBySide() {
        String text = CompareTable.render(List.of(run("fedex", 1.1e-7, 3.0), run("fedit", 2.2e-3, 3.5)));
        List<String> lines = text.lines().toList();
        assertThat(lines.get(0)).contains("fedex", "fedit");
        assertThat(text).containsPattern("final eval loss\\s+3\\.0000\\s+3\\.5000");
        assertThat(text).containsPattern("round 2 exactness err\\s+1\\.10e-07\\s+2\\.20e-03");
        assertThat(text).containsPattern("round 1 FedAvg deviation\\s+2\\.50e-03\\s+2\\.50e-03");
    }

    @Test
    void compareTableNamesRowsByTheRoundNumberFromTheBaseRoundOn() {
        RoundResult base = new RoundResult(0, 0, 0, null, null, 1.15, 0.29, null, null, null, null);
        RunResult fedex = new RunResult("fedex", "a", "COMPLETED", List.of(base,
                new RoundResult(1, 3, 3, 6e-8, 0.15, 1.03, 0.35, 30.0, 1.0, 1.0, 1.0)), Optional.empty(), 1.0);
        RunResult fedit = new RunResult("fedit", "b", "COMPLETED", List.of(base,
                new RoundResult(1, 3, 3, 0.16, 0.16, 1.08, 0.33, 30.0, 1.0, 1.0, 1.0)), Optional.empty(), 1.0);
        String text = CompareTable.render(List.of(fedex, fedit));
        assertThat(text).containsPattern("round 0 eval loss\\s+1\\.1500\\s+1\\.1500");
        assertThat(text).containsPattern("round 1 eval loss\\s+1\\.0300\\s+1\\.0800");
        assertThat(text).containsPattern("round 1 eval accuracy\\s+35\\.0%\\s+33\\.0%");
        assertThat(text).doesNotContain("round 2");
    }
}
