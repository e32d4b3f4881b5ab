package io.fedlora.demo.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.fedlora.demo.cli.DemoArgs;
import io.fedlora.demo.cli.DemoOptions;

class JsonReportTest {

    private final ObjectMapper mapper = new ObjectMapper();

    @Test
    void singleRunIsOneLineWithConfigurationAndRounds() throws Exception {
        DemoOptions options = DemoArgs.parse("--json", "--rounds", "2");
        String line = new JsonReport(mapper).line(options, List.of(ReportFormattingTest.run("fedex", 1e-7, 3.0)), "/w");
        assertThat(line).doesNotContain("\n");
        JsonNode json = mapper.readTree(line);
        assertThat(json.path("configuration").path("clients").asInt()).isEqualTo(3);
        assertThat(json.path("configuration").path("rounds").asInt()).isEqualTo(2);
        assertThat(json.path("configuration").path("strategy").asText()).isEqualTo("fedex");
        assertThat(json.path("configuration").path("seed").asLong()).isEqualTo(42);
        assertThat(json.path("status").asText()).isEqualTo("COMPLETED");
        assertThat(json.path("export_dir").asText()).isEqualTo("/w/export/model-v2");
        assertThat(json.path("work_dir_kept").asBoolean()).isTrue();
        assertThat(new JsonReport(mapper).build(options, List.of(), "/w", false).path("work_dir_kept").asBoolean())
                .as("a removed work directory is reported").isFalse();
        JsonNode rounds = json.path("rounds");
        assertThat(rounds.isArray()).isTrue();
        assertThat(rounds).hasSize(2);
        JsonNode first = rounds.get(0);
        for (String field : List.of("round", "participants", "exactness_rel_error", "fedavg_deviation_rel", "eval_loss",
                "eval_accuracy", "aggregate_ms", "bytes_down", "bytes_up")) {
            assertThat(first.has(field)).as(field).isTrue();
        }
        assertThat(first.path("participants").asInt()).isEqualTo(3);
        assertThat(first.path("exactness_rel_error").asDouble()).isEqualTo(1e-7);
        assertThat(first.path("bytes_up").isIntegralNumber()).isTrue();
        assertThat(first.path("bytes_up").asLong()).isEqualTo(3L * 1024 * 1024);
        assertThat(rounds.get(1).path("eval_accuracy").isNull()).isTrue();
        assertThat(rounds.get(1).path("bytes_down").isNull()).isTrue();
    }

    @Test
    void compareHasOneEntryPerRun() throws Exception {
        DemoOptions options = DemoArgs.parse("--compare", "--json");
        JsonNode json = new JsonReport(mapper).build(options, List.of(
                ReportFormattingTest.run("fedex", 1e-7, 3.0), ReportFormattingTest.run("fedit", 2e-3, 3.1)), "/w");
        assertThat(json.path("configuration").path("strategy").asText()).isEqualTo("compare");
        assertThat(json.path("runs")).hasSize(2);
        assertThat(json.path("runs").get(1).path("strategy").asText()).isEqualTo("fedit");
        assertThat(json.path("runs").get(1).path("rounds").get(0).path("exactness_rel_error").asDouble()).isEqualTo(2e-3);
    }
}
