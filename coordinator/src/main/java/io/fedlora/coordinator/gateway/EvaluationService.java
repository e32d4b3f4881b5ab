package io.fedlora.coordinator.gateway;

import io.fedlora.coordinator.clientapi.AuthenticatedClient;
import io.fedlora.coordinator.clientapi.ClientApiException;
import io.fedlora.coordinator.clientapi.ClientApiException.Kind;
import io.fedlora.coordinator.clientapi.EvaluationInfo;
import io.fedlora.coordinator.federation.FederationRepository;
import io.fedlora.coordinator.federation.FederationSpec;
import io.fedlora.coordinator.round.EvaluationRepository;
import io.fedlora.coordinator.round.EvaluationStatus;
import io.fedlora.coordinator.round.RoundRecord;
import io.fedlora.coordinator.round.RoundRepository;
import io.fedlora.coordinator.round.RoundStatus;
import io.fedlora.coordinator.round.Signals;
import java.time.Clock;
import java.util.Optional;
import org.springframework.stereotype.Service;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Intake of federated evaluations: a client reports once per evaluation it was asked for, within the
 * round's evaluation window (closed by the scheduler or, by the injected clock, once its deadline passed).
 */
@Service
public class EvaluationService {

    private final FederationRepository federations;
    private final RoundRepository rounds;
    private final EvaluationRepository evaluations;
    private final Signals signals;
    private final TransactionTemplate tx;
    private final Clock clock;

    public EvaluationService(FederationRepository federations, RoundRepository rounds, EvaluationRepository evaluations, Signals signals,
            TransactionTemplate tx, Clock clock) {
        this.federations = federations;
        this.rounds = rounds;
        this.evaluations = evaluations;
        this.signals = signals;
        this.tx = tx;
        this.clock = clock;
    }

    /** Records an evaluation; false for a duplicate report of one already recorded. */
    public boolean record(AuthenticatedClient client, EvaluationInfo e) {
        Ownership.require(client, e.federationId());
        RoundRecord r = rounds.current(e.federationId(), e.round()).orElseThrow(() -> new ClientApiException(Kind.NOT_FOUND,
                "round " + e.round() + " of federation " + e.federationId() + " does not exist"));
        Optional<EvaluationStatus> status = evaluations.status(r.id(), client.clientId()).map(EvaluationStatus::valueOf);
        if (status.isEmpty()) {
            throw new ClientApiException(Kind.PERMISSION_DENIED, "no evaluation of round " + e.round() + " was asked of this client");
        }
        if (status.get() == EvaluationStatus.REPORTED) {
            return false;
        }
        boolean late = r.evalDeadline() != null && !clock.instant().isBefore(r.evalDeadline());
        if (status.get() != EvaluationStatus.PENDING || r.status() != RoundStatus.EVALUATING || late) {
            throw new ClientApiException(Kind.FAILED_PRECONDITION, "the evaluation window of round " + e.round() + " has closed");
        }
        if (e.modelVersion() != r.number()) {
            throw new ClientApiException(Kind.INVALID_ARGUMENT, "round " + e.round() + " evaluates version " + r.number()
                    + ", not " + e.modelVersion());
        }
        if (e.numExamples() <= 0 || !Double.isFinite(e.loss()) || !Double.isFinite(e.accuracy())) {
            throw new ClientApiException(Kind.INVALID_ARGUMENT,
                    "an evaluation needs a positive example count and finite loss and accuracy");
        }
        long bound = federations.find(e.federationId()).map(f -> f.spec().maxExamplesPerUpdate())
                .orElse(FederationSpec.DEFAULT_MAX_EXAMPLES_PER_UPDATE);
        if (e.numExamples() > bound) {
            throw new ClientApiException(Kind.INVALID_ARGUMENT, "num_examples " + e.numExamples()
                    + " is above the federation's maxExamplesPerUpdate of " + bound);
        }
        return Boolean.TRUE.equals(tx.execute(s -> {
            boolean ok = evaluations.report(r.id(), client.clientId(), e.numExamples(), e.loss(), e.accuracy(),
                    Ownership.finiteMetrics(e.metrics()));
            signals.wakeScheduler();
            return ok;
        }));
    }
}
