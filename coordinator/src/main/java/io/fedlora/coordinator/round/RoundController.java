package io.fedlora.coordinator.round;

import io.fedlora.coordinator.admin.NotFoundException;
import io.fedlora.coordinator.federation.FederationRepository;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.tags.Tag;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RestController;

/** Admin REST: a federation's rounds with participants, status, timings and metrics. */
@RestController
@Tag(name = "rounds", description = "round history with participants and metrics")
public class RoundController {

    private final FederationRepository federations;
    private final RoundRepository rounds;
    private final ParticipantRepository participants;
    private final UpdateRepository updates;
    private final RoundMetricsRepository metrics;

    public RoundController(FederationRepository federations, RoundRepository rounds, ParticipantRepository participants,
            UpdateRepository updates, RoundMetricsRepository metrics) {
        this.federations = federations;
        this.rounds = rounds;
        this.participants = participants;
        this.updates = updates;
        this.metrics = metrics;
    }

    @GetMapping("/api/v1/federations/{id}/rounds")
    @Operation(summary = "List a federation's round attempts", description = "Oldest first, retried attempts included; metrics holds exactness_rel_error, fedavg_deviation_rel, aggregate_ms, bytes_up, bytes_down, train_loss, eval_loss, eval_accuracy, eval_examples, num_clients, total_examples and per_layer once the round was aggregated (evaluation once clients evaluated the new version); a field not reported yet is absent or null.")
    public List<RoundView> rounds(@PathVariable String id) {
        federations.find(id).orElseThrow(() -> new NotFoundException("no federation " + id));
        return rounds.list(id).stream().map(this::view).toList();
    }

    private RoundView view(RoundRecord r) {
        Map<String, StoredUpdate> byClient = updates.forRound(r.id()).stream()
                .collect(Collectors.toMap(StoredUpdate::clientId, Function.identity(), (a, b) -> a));
        List<RoundView.ParticipantView> ps = participants.list(r.id()).stream().map(p -> {
            StoredUpdate u = byClient.get(p.clientId());
            return new RoundView.ParticipantView(p.clientId(), p.clientName(), p.status(),
                    u == null ? null : u.numExamples(), u == null ? Map.of() : u.metrics());
        }).toList();
        Map<String, Object> m = new LinkedHashMap<>();
        metrics.find(r.id()).ifPresent(rm -> {
            m.put("exactness_rel_error", rm.exactnessRelError());
            m.put("fedavg_deviation_rel", rm.fedavgDeviationRel());
            m.put("aggregate_ms", rm.aggregateMs());
            m.put("bytes_up", rm.bytesUp());
            m.put("train_loss", rm.trainLoss());
            m.put("eval_loss", rm.evalLoss());
            m.put("eval_accuracy", rm.evalAccuracy());
            m.put("eval_examples", rm.evalExamples());
            m.put("num_clients", rm.numClients());
            m.put("total_examples", rm.totalExamples());
            m.put("per_layer", rm.perLayer());
        });
        m.put("bytes_down", r.bytesDown());
        return new RoundView(r.number(), r.attempt(), r.status().name(), r.reason(), r.baseVersion(), r.startedAt(),
                r.deadline(), r.endedAt(), ps, m);
    }
}
