package io.fedlora.coordinator.round;

import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.federation.FederationRepository;
import io.fedlora.coordinator.federation.FederationStatus;
import io.fedlora.coordinator.federation.FederationSpec;
import io.fedlora.coordinator.metrics.CoordinatorMetrics;
import java.time.Clock;
import java.time.Instant;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * The round state machine of one federation. Each {@link #step} is one transaction that starts by
 * locking the federation row and re-reads everything it decides on, so two schedulers (or a restart
 * in the middle) can never apply a transition twice. Aggregation itself runs outside a transaction in
 * {@link RoundAggregation}, which publishes with the same lock-and-check discipline.
 * <p>
 * Round and evaluation deadlines are set and judged by the injected {@link Clock} (the one the client API judges
 * them by too), so tests move time past a deadline instead of sleeping through it. Heartbeat freshness is not a
 * deadline: the database stamps heartbeats with its own {@code now()}, so liveness is {@link EligibleClients}'s.
 */
@Component
public class RoundEngine {

    private static final Logger log = LoggerFactory.getLogger(RoundEngine.class);
    private static final EnumSet<FederationStatus> RUNNING = EnumSet.of(FederationStatus.RUNNING);

    /** What a step did: nothing to do now, a transition, or an aggregation to run. */
    public enum Step { IDLE, PROGRESSED, AGGREGATE }

    private final FederationRepository federations;
    private final RoundRepository rounds;
    private final ParticipantRepository participants;
    private final UpdateRepository updates;
    private final EvaluationRepository evaluations;
    private final RoundMetricsRepository roundMetrics;
    private final EligibleClients eligibleClients;
    private final RoundAggregation aggregation;
    private final RoundAccumulators accumulators;
    private final Signals signals;
    private final CoordinatorMetrics metrics;
    private final TransactionTemplate tx;
    private final Clock clock;

    public RoundEngine(FederationRepository federations, RoundRepository rounds, ParticipantRepository participants,
            UpdateRepository updates, EvaluationRepository evaluations, RoundMetricsRepository roundMetrics,
            EligibleClients eligibleClients, RoundAggregation aggregation, RoundAccumulators accumulators, Signals signals,
            CoordinatorMetrics metrics, TransactionTemplate tx, Clock clock) {
        this.federations = federations;
        this.rounds = rounds;
        this.participants = participants;
        this.updates = updates;
        this.evaluations = evaluations;
        this.roundMetrics = roundMetrics;
        this.eligibleClients = eligibleClients;
        this.aggregation = aggregation;
        this.accumulators = accumulators;
        this.signals = signals;
        this.metrics = metrics;
        this.tx = tx;
        this.clock = clock;
    }

    /** Advances a federation as far as it can go right now. */
    public void advance(String federationId) {
        for (int i = 0; i < 32; i++) {
            Step s = step(federationId);
            if (s == Step.AGGREGATE) {
                aggregate(federationId);
            } else if (s == Step.IDLE) {
                return;
            }
        }
    }

    private void aggregate(String federationId) {
        Optional<RoundRecord> live = rounds.live(federationId);
        if (live.isEmpty() || live.get().status() != RoundStatus.AGGREGATING) {
            return;
        }
        try {
            aggregation.aggregateAndPublish(federationId, live.get().id());
        } catch (RuntimeException e) {
            log.error("federation {}: aggregation of round {} failed", federationId, live.get().number(), e);
            String reason = "aggregation of round " + live.get().number() + " failed: " + e.getMessage();
            tx.executeWithoutResult(s -> {
                if (federations.lock(federationId).map(f -> f.status() == FederationStatus.RUNNING).orElse(false)
                        && rounds.transition(live.get().id(), RoundStatus.AGGREGATING, RoundStatus.FAILED, reason)) {
                    federations.transition(federationId, RUNNING, FederationStatus.FAILED, reason);
                    metrics.roundEnded("failed");
                    signals.federationChanged(federationId);
                }
            });
        }
    }

    /** One transition (or none) in one transaction. */
    public Step step(String federationId) {
        return tx.execute(s -> {
            Federation f = federations.lock(federationId).orElse(null);
            if (f == null || f.status() != FederationStatus.RUNNING) {
                accumulators.discard(federationId);
                return Step.IDLE;
            }
            Optional<RoundRecord> live = rounds.live(federationId);
            if (live.isEmpty()) {
                return startNext(f);
            }
            RoundRecord r = live.get();
            return switch (r.status()) {
                case SELECTING -> select(f, r);
                case COLLECTING -> collect(f, r);
                case AGGREGATING -> Step.AGGREGATE;
                case EVALUATING -> evaluate(f, r);
                default -> Step.IDLE;
            };
        });
    }

    private Step startNext(Federation f) {
        FederationSpec spec = f.spec();
        Optional<RoundRecord> latest = rounds.latest(f.id());
        int number;
        int attempt = 1;
        if (latest.isEmpty()) {
            number = spec.evaluate() ? 0 : 1;
        } else if (latest.get().status() == RoundStatus.PUBLISHED) {
            number = latest.get().number() + 1;
        } else if (latest.get().status() == RoundStatus.RETRIED) {
            number = latest.get().number();
            attempt = latest.get().attempt() + 1;
        } else {
            log.warn("federation {} is RUNNING but its last round is {}; failing it", f.id(), latest.get().status());
            federations.transition(f.id(), RUNNING, FederationStatus.FAILED,
                    "round " + latest.get().number() + " ended " + latest.get().status());
            signals.federationChanged(f.id());
            return Step.PROGRESSED;
        }
        if (number > spec.rounds()) {
            federations.transition(f.id(), RUNNING, FederationStatus.COMPLETED, "completed " + spec.rounds() + " rounds");
            log.info("federation {} '{}' completed {} rounds", f.id(), f.name(), spec.rounds());
            signals.federationChanged(f.id());
            return Step.PROGRESSED;
        }
        long base = Math.max(0, number - 1);
        rounds.insert(f.id(), number, attempt, RoundStatus.SELECTING, base);
        federations.setCurrentRound(f.id(), number);
        log.info("federation {}: round {} attempt {} selecting clients", f.id(), number, attempt);
        return Step.PROGRESSED;
    }

    private Step select(Federation f, RoundRecord r) {
        FederationSpec spec = f.spec();
        List<String> eligible = eligible(f);
        int needed = Math.max(spec.clientsPerRound().minimum(), spec.minClients());
        if (eligible.size() < needed) {
            // Like Flower's min_available_clients: wait for enough live clients, but say so where the operator looks.
            String waiting = "waiting for clients: " + eligible.size() + " of the " + needed + " needed are connected";
            if (rounds.noteSelecting(r.id(), waiting)) {
                log.info("federation {}: round {} attempt {} {}", f.id(), r.number(), r.attempt(), waiting);
            }
            return Step.IDLE;
        }
        rounds.noteSelecting(r.id(), null);
        Instant now = clock.instant();
        if (r.number() == 0) {
            eligible.forEach(c -> evaluations.assign(r.id(), c, 0));
            rounds.setEvalDeadline(r.id(), now.plusSeconds(spec.roundDeadlineSeconds()));
            rounds.transition(r.id(), RoundStatus.SELECTING, RoundStatus.EVALUATING, null);
            log.info("federation {}: evaluating the initial model on {} clients", f.id(), eligible.size());
        } else {
            List<String> chosen = ClientSelector.select(eligible, spec.clientsPerRound().fraction(),
                    spec.clientsPerRound().minimum(), spec.training().seed(), r.number(), r.attempt());
            chosen.forEach(c -> participants.select(r.id(), c));
            rounds.setDeadline(r.id(), now.plusSeconds(spec.roundDeadlineSeconds()));
            rounds.transition(r.id(), RoundStatus.SELECTING, RoundStatus.COLLECTING, null);
            log.info("federation {}: round {} attempt {} collecting from {} of {} clients (deadline {}s)", f.id(),
                    r.number(), r.attempt(), chosen.size(), eligible.size(), spec.roundDeadlineSeconds());
        }
        signals.federationChanged(f.id());
        return Step.PROGRESSED;
    }

    private List<String> eligible(Federation f) {
        return eligibleClients.of(f.id());
    }

    private Step collect(Federation f, RoundRecord r) {
        ParticipantRepository.Counts c = participants.counts(r.id());
        boolean allIn = c.reported() >= c.selected();
        boolean late = r.deadline() != null && clock.instant().isAfter(r.deadline());
        if (!allIn && !late) {
            return Step.IDLE;
        }
        FederationSpec spec = f.spec();
        participants.markMissed(r.id());
        if (c.reported() >= spec.minClients()) {
            rounds.transition(r.id(), RoundStatus.COLLECTING, RoundStatus.AGGREGATING, null);
            log.info("federation {}: round {} aggregating {} of {} updates{}", f.id(), r.number(), c.reported(),
                    c.selected(), allIn ? "" : " (deadline passed)");
            signals.federationChanged(f.id());
            return Step.AGGREGATE;
        }
        String why = "only " + c.reported() + " of " + c.selected() + " selected clients reported by the deadline; "
                + spec.minClients() + " needed";
        updates.setStatus(r.id(), "ACCEPTED", "DISCARDED");
        accumulators.discard(f.id());
        if (r.attempt() <= spec.maxRoundRetries()) {
            rounds.transition(r.id(), RoundStatus.COLLECTING, RoundStatus.RETRIED, why);
            metrics.roundEnded("retried");
            log.warn("federation {}: round {} attempt {} retried: {}", f.id(), r.number(), r.attempt(), why);
        } else {
            rounds.transition(r.id(), RoundStatus.COLLECTING, RoundStatus.FAILED, why);
            String reason = "round " + r.number() + " failed after " + r.attempt() + " attempts: " + why;
            federations.transition(f.id(), RUNNING, FederationStatus.FAILED, reason);
            metrics.roundEnded("failed");
            log.error("federation {} failed: {}", f.id(), reason);
        }
        signals.federationChanged(f.id());
        return Step.PROGRESSED;
    }

    private Step evaluate(Federation f, RoundRecord r) {
        Instant now = clock.instant();
        Instant aliveSince = eligibleClients.aliveSince();
        if (evaluations.assigned(r.id()) == 0) {
            // Just published (or resumed after an outage, when no client has been heard from within the heartbeat
            // timeout yet): ask the live clients, or wait until one is back; the deadline starts when they are asked.
            int asked = evaluations.assignLive(r.id(), f.id(), r.number(), aliveSince);
            if (asked == 0) {
                String waiting = "waiting for a live client to evaluate version " + r.number();
                if (rounds.noteEvaluating(r.id(), waiting)) {
                    log.info("federation {}: round {} {}", f.id(), r.number(), waiting);
                }
                return Step.IDLE;
            }
            rounds.noteEvaluating(r.id(), null);
            rounds.setEvalDeadline(r.id(), now.plusSeconds(f.spec().roundDeadlineSeconds()));
            log.info("federation {}: evaluating version {} on {} clients", f.id(), r.number(), asked);
            signals.federationChanged(f.id());
            return Step.PROGRESSED;
        }
        boolean late = r.evalDeadline() != null && now.isAfter(r.evalDeadline());
        if (!late && evaluations.assignLive(r.id(), f.id(), r.number(), aliveSince) > 0) {
            signals.federationChanged(f.id()); // clients back since the evaluation opened evaluate it too
        }
        boolean allIn = evaluations.pending(r.id()) == 0;
        if (!allIn && !late) {
            return Step.IDLE;
        }
        evaluations.markMissed(r.id());
        EvaluationRepository.Summary summary = evaluations.summary(r.id());
        roundMetrics.setEvaluation(r.id(), summary);
        rounds.transition(r.id(), RoundStatus.EVALUATING, RoundStatus.PUBLISHED, null);
        metrics.roundEnded("published");
        log.info("federation {}: round {} published (eval loss {}, accuracy {} over {} examples)", f.id(), r.number(),
                summary.loss(), summary.accuracy(), summary.examples());
        signals.federationChanged(f.id());
        return Step.PROGRESSED;
    }
}
