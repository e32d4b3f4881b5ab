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

    @Test
    void showsTrainingStepsOfTheLatestRoundAtMostEveryFewSecondsAndOnlyWhenChanged() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        long[] now = {0};
        ProgressPrinter printer = new ProgressPrinter(new PrintStream(bytes, true, StandardCharsets.UTF_8), "[fedex] ",
                "fedex", 5, () -> now[0]);
        List<io.fedlora.demo.admin.ClientView> training = List.of(
                new io.fedlora.demo.admin.ClientView("client-2", "training round 2 step 60/150"),
                new io.fedlora.demo.admin.ClientView("client-1", "training round 2 step 80/150"),
                new io.fedlora.demo.admin.ClientView("client-3", "uploading round 2"),
                new io.fedlora.demo.admin.ClientView("client-4", "training round 1 step 150/150"),
                new io.fedlora.demo.admin.ClientView("client-5", null));
        printer.clients(training);
        now[0] += 1_000_000_000L;
        printer.clients(List.of(new io.fedlora.demo.admin.ClientView("client-1", "training round 2 step 90/150")));
        now[0] += 5_000_000_000L;
        printer.clients(List.of(new io.fedlora.demo.admin.ClientView("client-1", "training round 2 step 80/150"),
                new io.fedlora.demo.admin.ClientView("client-2", "training round 2 step 60/150")));
        printer.clients(List.of(new io.fedlora.demo.admin.ClientView("client-1", "idle")));
        now[0] += 5_000_000_000L;
        printer.clients(List.of(new io.fedlora.demo.admin.ClientView("client-1", "training round 3 step 10/150")));

        assertThat(bytes.toString(StandardCharsets.UTF_8).lines().toList()).containsExactly(
                "[fedex] round 2/5: training client-1 80/150, client-2 60/150",
                "[fedex] round 3/5: training client-1 10/150");
    }

    @Test
    void aClientThatReportedIsNotShownTrainingFromItsLastHeartbeat() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        long[] now = {0};
        ProgressPrinter printer = new ProgressPrinter(new PrintStream(bytes, true, StandardCharsets.UTF_8), "", "fedex", 3,
                () -> now[0]);
        printer.update(rounds("""
                [{"round":1,"status":"COLLECTING","attempt":1,"participants":[
                  {"clientId":"a","clientName":"client-1","status":"REPORTED","numExamples":40},
                  {"clientId":"b","clientName":"client-2","status":"SELECTED","numExamples":0}],"metrics":{}}]"""));
        printer.clients(List.of(new io.fedlora.demo.admin.ClientView("client-1", "training round 1 step 149/150"),
                new io.fedlora.demo.admin.ClientView("client-2", "training round 1 step 120/150")));
        now[0] += 5_000_000_000L;
        printer.clients(List.of(new io.fedlora.demo.admin.ClientView("client-1", "training round 1 step 150/150")));

        assertThat(bytes.toString(StandardCharsets.UTF_8).lines().toList()).containsExactly(
                "round 1/3: 2 clients selected",
                "round 1/3: 1/2 clients reported",
                "round 1/3: training client-2 120/150");
    }
}
