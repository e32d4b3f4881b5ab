package io.fedlora.demo.status;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;

import io.fedlora.demo.admin.FederationView;
import io.fedlora.demo.admin.RoundMetrics;
import io.fedlora.demo.admin.RoundView;
import io.fedlora.demo.report.Formats;
import io.fedlora.demo.report.TextTable;

/** The plain-text tables {@code ./fedlora status} prints; times in UTC, to the second. */
final class StatusTables {

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss'Z'").withZone(ZoneOffset.UTC);

    private StatusTables() {
    }

    static String federations(List<FederationView> all) {
        if (all.isEmpty()) {
            return "no federations\n";
        }
        TextTable t = new TextTable(List.of("id", "name", "status", "strategy", "round", "created", "ended"));
        for (FederationView f : all) {
            JsonNode spec = f.json().path("spec");
            t.add(List.of(f.id(), f.json().path("name").asText(), f.status(), spec.path("strategy").asText("-"),
                    f.currentRound() + "/" + spec.path("rounds").asText("?"), time(f.json().path("createdAt")),
                    time(f.json().path("endedAt"))));
        }
        return t.render();
    }

    static String federation(FederationView f) {
        JsonNode j = f.json();
        JsonNode spec = j.path("spec");
        String reason = j.path("statusReason").isTextual() ? " (" + j.path("statusReason").asText() + ")" : "";
        return "federation " + j.path("name").asText() + " (" + f.id() + "): " + f.status() + reason + ", "
                + spec.path("strategy").asText() + ", round " + f.currentRound() + "/" + spec.path("rounds").asText()
                + ", started " + time(j.path("startedAt")) + ", ended " + time(j.path("endedAt")) + "\n";
    }

    static String rounds(List<RoundView> rounds) {
        if (rounds.isEmpty()) {
            return "no rounds yet\n";
        }
        TextTable t = new TextTable(List.of("round", "attempt", "state", "clients", "exactness", "fedavg_dev",
                "eval_loss", "eval_acc", "aggregate", "started", "took"));
        for (RoundView r : rounds) {
            RoundMetrics m = r.metrics();
            t.add(List.of(Integer.toString(r.round()), Integer.toString(r.attempt()), r.status(),
                    r.round() == 0 ? "-" : r.reportedCount() + "/" + r.participants().size(),
                    Formats.sci(m.exactnessRelError()), Formats.sci(m.fedavgDeviationRel()), Formats.loss(m.evalLoss()),
                    Formats.percent(m.evalAccuracy()), Formats.millis(m.aggregateMs()), time(r.json().path("startedAt")),
                    took(r.json().path("startedAt"), r.json().path("endedAt"))));
        }
        return t.render();
    }

    private static String time(JsonNode iso) {
        return iso.isTextual() ? TIME.format(Instant.parse(iso.asText())) : "-";
    }

    private static String took(JsonNode start, JsonNode end) {
        if (!start.isTextual() || !end.isTextual()) {
            return "-";
        }
        Duration d = Duration.between(Instant.parse(start.asText()), Instant.parse(end.asText()));
        return String.format(java.util.Locale.ROOT, "%.1f s", d.toMillis() / 1000.0);
    }
}
