package io.fedlora.coordinator.gateway;

import io.fedlora.coordinator.clientapi.AuthenticatedClient;
import io.fedlora.coordinator.clientapi.ClientApiException;
import io.fedlora.coordinator.clientapi.ClientApiException.Kind;
import io.fedlora.coordinator.clientapi.ClientTask;
import io.fedlora.coordinator.clientapi.TrainingPlanInfo;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.federation.FederationModel;
import io.fedlora.coordinator.federation.FederationRepository;
import io.fedlora.coordinator.federation.FederationSpec;
import io.fedlora.coordinator.federation.FederationStatus;
import io.fedlora.coordinator.round.EvaluationRepository;
import io.fedlora.coordinator.round.EvaluationStatus;
import io.fedlora.coordinator.round.ParticipantRepository;
import io.fedlora.coordinator.round.ParticipantStatus;
import io.fedlora.coordinator.round.RoundRecord;
import io.fedlora.coordinator.round.RoundRepository;
import io.fedlora.coordinator.round.RoundStatus;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import org.springframework.stereotype.Service;

/**
 * What a client should do now: train in the collecting round it was selected for, evaluate a version
 * it was asked to, stop because its federation ended, or nothing yet. Never blocks; waiting for a task
 * is {@link TaskPolls}'. A round whose deadline passed (by the injected clock) offers no more work.
 */
@Service
public class TaskService {

    private final FederationRepository federations;
    private final RoundRepository rounds;
    private final ParticipantRepository participants;
    private final EvaluationRepository evaluations;
    private final Clock clock;

    public TaskService(FederationRepository federations, RoundRepository rounds, ParticipantRepository participants,
            EvaluationRepository evaluations, Clock clock) {
        this.federations = federations;
        this.rounds = rounds;
        this.participants = participants;
        this.evaluations = evaluations;
        this.clock = clock;
    }

    /** The client's current work, if any. */
    public Optional<ClientTask> taskFor(AuthenticatedClient client) {
        Federation f = federations.find(client.federationId()).orElseThrow(
                () -> new ClientApiException(Kind.NOT_FOUND, "federation " + client.federationId() + " no longer exists"));
        if (f.status().isTerminal()) {
            String reason = switch (f.status()) {
                case COMPLETED -> "completed";
                case CANCELLED -> "cancelled" + suffix(f.statusReason());
                default -> "failed" + suffix(f.statusReason());
            };
            return Optional.of(new ClientTask(ClientTask.Kind.DONE, f.id(), f.currentRound(), -1, null, List.of(), 0,
                    reason, f.spec().maxUpdateNorm()));
        }
        if (f.status() != FederationStatus.RUNNING) {
            return Optional.empty();
        }
        Optional<RoundRecord> live = rounds.live(f.id());
        if (live.isEmpty()) {
            return Optional.empty();
        }
        RoundRecord r = live.get();
        if (r.status() == RoundStatus.COLLECTING && before(r.deadline() == null ? null : r.deadline().toEpochMilli())
                && ParticipantStatus.parse(participants.status(r.id(), client.clientId())) == ParticipantStatus.SELECTED) {
            FederationModel m = federations.model(f.id());
            return Optional.of(new ClientTask(ClientTask.Kind.TRAIN, f.id(), r.number(), r.baseVersion(), plan(f.spec()),
                    UploadRules.expected(m.layers(), f.spec().rank()), r.deadline().toEpochMilli(), null,
                    f.spec().maxUpdateNorm()));
        }
        // An evaluation is offered only once its deadline is set: the engine asks the live clients and then starts
        // the deadline, and a poll between the two waits for the signal that follows (it used to throw an NPE).
        if (r.status() == RoundStatus.EVALUATING && r.evalDeadline() != null && before(r.evalDeadline().toEpochMilli())
                && evaluations.status(r.id(), client.clientId()).map(EvaluationStatus::valueOf)
                        .filter(EvaluationStatus.PENDING::equals).isPresent()) {
            return Optional.of(new ClientTask(ClientTask.Kind.EVALUATE, f.id(), r.number(), r.number(), plan(f.spec()),
                    List.of(), r.evalDeadline().toEpochMilli(), null, f.spec().maxUpdateNorm()));
        }
        return Optional.empty();
    }

    private boolean before(Long deadlineMs) {
        return deadlineMs == null || clock.millis() < deadlineMs;
    }

    private static TrainingPlanInfo plan(FederationSpec s) {
        FederationSpec.TrainingSpec t = s.training();
        return new TrainingPlanInfo(s.targetModules(), s.rank(), s.alpha(), s.useRslora(), s.strategy(), t.localEpochs(),
                t.localSteps(), t.batchSize(), t.learningRate(), t.weightDecay(), t.maxGradNorm(), t.seed(), t.maxSeqLen());
    }

    private static String suffix(String reason) {
        return reason == null ? "" : ": " + reason;
    }
}
