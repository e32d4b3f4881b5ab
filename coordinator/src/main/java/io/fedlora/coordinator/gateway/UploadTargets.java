package io.fedlora.coordinator.gateway;

import io.fedlora.coordinator.clientapi.AuthenticatedClient;
import io.fedlora.coordinator.clientapi.ClientApiException.Kind;
import io.fedlora.coordinator.clientapi.TensorSpec;
import io.fedlora.coordinator.clientapi.UpdateHeaderInfo;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.federation.FederationRepository;
import io.fedlora.coordinator.federation.FederationStatus;
import io.fedlora.coordinator.round.ParticipantRepository;
import io.fedlora.coordinator.round.ParticipantStatus;
import io.fedlora.coordinator.round.RoundRecord;
import io.fedlora.coordinator.round.RoundRepository;
import io.fedlora.coordinator.round.RoundStatus;
import io.fedlora.coordinator.round.StoredUpdate;
import io.fedlora.coordinator.round.UpdateRepository;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import org.springframework.stereotype.Component;

/**
 * Where an upload's header says it goes, and every check on that header (DESIGN.md "Bad input"): the
 * federation runs, the round is open and its deadline (by the injected clock) not passed, the client was
 * selected and has not reported, the example count is within bounds, and the declared tensors are exactly
 * the expected ones. Each refusal is an {@link UploadRules.Rejection} with a metric tag.
 */
@Component
class UploadTargets {

    /** Where an upload goes, once its header passed every check. */
    record Target(Federation federation, RoundRecord round, List<TensorSpec> expected) {}

    private final FederationRepository federations;
    private final RoundRepository rounds;
    private final ParticipantRepository participants;
    private final UpdateRepository updates;
    private final Clock clock;

    UploadTargets(FederationRepository federations, RoundRepository rounds, ParticipantRepository participants,
            UpdateRepository updates, Clock clock) {
        this.federations = federations;
        this.rounds = rounds;
        this.participants = participants;
        this.updates = updates;
        this.clock = clock;
    }

    /** The update already accepted under this header's upload id (an idempotent retry), if any. */
    Optional<StoredUpdate> earlier(AuthenticatedClient client, UpdateHeaderInfo header) {
        if (header.uploadId() == null || header.uploadId().isBlank() || header.uploadId().length() > 200) {
            throw new UploadRules.Rejection(Kind.INVALID_ARGUMENT, "bad_header", "upload_id must be 1 to 200 characters");
        }
        if (!client.federationId().equals(header.federationId())) {
            throw new UploadRules.Rejection(Kind.PERMISSION_DENIED, "wrong_federation", "client " + client.clientId()
                    + " belongs to federation " + client.federationId() + ", not " + header.federationId());
        }
        return updates.findUpload(header.federationId(), header.round(), client.clientId(), header.uploadId());
    }

    Target target(AuthenticatedClient client, UpdateHeaderInfo h) {
        Federation f = federations.find(h.federationId()).orElseThrow(() -> new UploadRules.Rejection(Kind.NOT_FOUND,
                "unknown_federation", "unknown federation " + h.federationId()));
        if (f.status() != FederationStatus.RUNNING) {
            throw new UploadRules.Rejection(Kind.FAILED_PRECONDITION, "federation_not_running",
                    "federation " + f.id() + " is " + f.status() + "; it accepts no updates");
        }
        RoundRecord r = rounds.current(f.id(), h.round()).orElseThrow(() -> new UploadRules.Rejection(Kind.NOT_FOUND,
                "unknown_round", "round " + h.round() + " of federation " + f.id() + " is not open"));
        ParticipantStatus status = ParticipantStatus.parse(participants.status(r.id(), client.clientId()));
        if (status == null) {
            throw new UploadRules.Rejection(Kind.PERMISSION_DENIED, "not_selected", "client " + client.clientName()
                    + " was not selected for round " + h.round() + " (attempt " + r.attempt() + ")");
        }
        if (status == ParticipantStatus.REPORTED) {
            String first = updates.accepted(r.id(), client.clientId()).map(StoredUpdate::uploadId).orElse("?");
            throw new UploadRules.Rejection(Kind.ALREADY_EXISTS, "already_reported", "an update (upload " + first
                    + ") was already accepted from this client for round " + h.round());
        }
        if (r.status() != RoundStatus.COLLECTING || status != ParticipantStatus.SELECTED) {
            throw new UploadRules.Rejection(Kind.FAILED_PRECONDITION, "round_closed", "round " + h.round() + " is "
                    + r.status() + "; it no longer accepts updates");
        }
        if (r.deadline() != null && !clock.instant().isBefore(r.deadline())) {
            throw new UploadRules.Rejection(Kind.FAILED_PRECONDITION, "round_closed", "the deadline of round " + h.round()
                    + " (" + r.deadline() + ") has passed; it no longer accepts updates");
        }
        if (h.numExamples() <= 0) {
            throw new UploadRules.Rejection(Kind.INVALID_ARGUMENT, "bad_examples",
                    "num_examples must be positive, got " + h.numExamples());
        }
        if (h.numExamples() > f.spec().maxExamplesPerUpdate()) {
            throw new UploadRules.Rejection(Kind.INVALID_ARGUMENT, "too_many_examples", "num_examples "
                    + h.numExamples() + " is above the federation's maxExamplesPerUpdate of "
                    + f.spec().maxExamplesPerUpdate());
        }
        if (h.baseModelVersion() != r.baseVersion()) {
            throw new UploadRules.Rejection(Kind.INVALID_ARGUMENT, "wrong_base_version", "update was trained from version "
                    + h.baseModelVersion() + ", but round " + h.round() + " trains from version " + r.baseVersion());
        }
        List<TensorSpec> expected = UploadRules.expected(federations.model(f.id()).layers(), f.spec().rank());
        UploadRules.checkDeclared(h.tensors() == null ? List.of() : h.tensors(), expected);
        return new Target(f, r, expected);
    }
}
