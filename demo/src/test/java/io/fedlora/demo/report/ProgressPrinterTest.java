package io.fedlora.demo.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.ObjectMapper;

import io.fedlora.demo.admin.RoundView;

class ProgressPrinterTest {

    private final ObjectMapper mapper = new ObjectMapper();

    private List<RoundView> rounds(String json) throws Exception {
        return RoundViews.parse(mapper.readTree(json));
    }

    @Test
    void printsEachEventOnceAsRoundsProgress() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ProgressPrinter printer = new ProgressPrinter(new PrintStream(bytes, true, StandardCharsets.UTF_8), "", "fedex", 3);
        String selected = """
                [{"round":1,"status":"COLLECTING","attempt":1,"participants":[
                  {"clientId":"a","clientName":"client-0","status":"SELECTED","numExamples":0},
                  {"clientId":"b","clientName":"client-1","status":"SELECTED","numExamples":0}],"metrics":{}}]""";
        String oneIn = selected.replaceFirst("\"SELECTED\",\"numExamples\":0", "\"REPORTED\",\"numExamples\":40");
        String done = """
                [{"round":1,"status":"PUBLISHED","attempt":1,"participants":[
                  {"clientId":"a","clientName":"client-0","status":"REPORTED","numExamples":40},
                  {"clientId":"b","clientName":"client-1","status":"REPORTED","numExamples":60}],
                  "metrics":{"exactness_rel_error":1.5e-7,"fedavg_deviation_rel":0.0042,"aggregate_ms":12,"eval_loss":2.5,"eval_accuracy":0.25}}]""";
        printer.update(rounds(selected));
        printer.update(rounds(selected));
        printer.update(rounds(oneIn));
        printer.update(rounds(done));
        printer.update(rounds(done));
        List<String> lines = bytes.toString(StandardCharsets.UTF_8).lines().toList();
        assertThat(RoundView.latestAttempts(rounds(done.replace("[{", "[{\"round\":1,\"attempt\":2,\"status\":\"COLLECTING\",\"participants\":[]},{"))))
                .singleElement().satisfies(r -> assertThat(r.attempt()).isEqualTo(2));
        assertThat(lines).containsExactly(
                "round 1/3: 2 clients selected",
                "round 1/3: 1/2 clients reported",
                "round 1/3: 2/2 clients reported",
                "round 1/3: aggregated 2 updates in 12 ms | exactness error 1.50e-07 | FedAvg deviation avoided 4.20e-03",
                "round 1/3: eval loss 2.5000, accuracy 25.0%");
    }
}
