package io.fedlora.coordinator.gateway;

import io.fedlora.coordinator.client.ClientRepository;
import io.fedlora.coordinator.client.CredentialHolder;
import io.fedlora.coordinator.client.HeartbeatLog;
import io.fedlora.coordinator.client.EnrolmentTokenRepository;
import io.fedlora.coordinator.client.Secrets;
import io.fedlora.coordinator.clientapi.AuthenticatedClient;
import io.fedlora.coordinator.clientapi.ClientApiException;
import io.fedlora.coordinator.clientapi.ClientApiException.Kind;
import io.fedlora.coordinator.clientapi.Enrolment;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.federation.FederationRepository;
import io.fedlora.coordinator.round.Signals;
import java.time.Clock;
import java.time.Instant;
import java.util.Optional;
import java.util.Map;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.stereotype.Service;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Enrolment (a one-time token becomes a client and its bearer credential) and authentication of that
 * credential. Enrol is idempotent per (token, name) until the client first calls in, so an agent whose
 * response was lost can retry. Only hashes of tokens and credentials are stored; token expiry is judged by the injected clock.
 */
@Service
public class EnrolmentService {

    private static final Logger log = LoggerFactory.getLogger(EnrolmentService.class);

    private final FederationRepository federations;
    private final ClientRepository clients;
    private final EnrolmentTokenRepository tokens;
    private final Secrets secrets;
    private final Signals signals;
    private final TransactionTemplate tx;
    private final Clock clock;
    private final HeartbeatLog heartbeats;

    public EnrolmentService(FederationRepository federations, ClientRepository clients, EnrolmentTokenRepository tokens,
            Secrets secrets, Signals signals, TransactionTemplate tx, Clock clock, HeartbeatLog heartbeats) {
        this.heartbeats = heartbeats;
        this.federations = federations;
        this.clients = clients;
        this.tokens = tokens;
        this.secrets = secrets;
        this.signals = signals;
        this.tx = tx;
        this.clock = clock;
    }

    public Enrolment enrol(String enrolmentToken, String clientName, Map<String, String> labels) {
        if (enrolmentToken == null || enrolmentToken.isBlank()) {
            throw new ClientApiException(Kind.UNAUTHENTICATED, "an enrolment token is required");
        }
        String name = clientName == null ? "" : clientName.strip();
        if (name.isEmpty() || name.length() > 200) {
            throw new ClientApiException(Kind.INVALID_ARGUMENT, "client_name must be 1 to 200 characters");
        }
        ClientText.require("client_name", name, 200);
        ClientText.requireLabels(labels);
        String credential = secrets.newSecret();
        String newClientId = UUID.randomUUID().toString();
        Enrolment enrolment;
        try {
            enrolment = tx.execute(s -> {
                Instant now = clock.instant();
                String tokenHash = Secrets.hash(enrolmentToken);
                Optional<EnrolmentTokenRepository.UsableToken> usable = tokens.lockUsable(tokenHash, now);
                if (usable.isEmpty()) {
                    return retried(tokenHash, now, name, credential).orElseThrow(() -> new ClientApiException(
                            Kind.UNAUTHENTICATED, "unknown, used, revoked or expired enrolment token"));
                }
                EnrolmentTokenRepository.UsableToken token = usable.get();
                Federation f = federations.lock(token.federationId()).orElseThrow();
                if (f.status().isTerminal()) {
                    throw new ClientApiException(Kind.FAILED_PRECONDITION, "federation " + f.id() + " is " + f.status());
                }
                if (clients.nameTaken(f.id(), name)) {
                    throw new ClientApiException(Kind.ALREADY_EXISTS,
                            "a client named '" + name + "' is already enrolled in federation " + f.id());
                }
                clients.insert(newClientId, f.id(), name, labels == null ? Map.of() : labels, Secrets.hash(credential));
                tokens.consume(token.id(), newClientId);
                // a new client can make a round waiting for clients selectable; it gives no waiting poll work
                signals.wakeScheduler();
                return new Enrolment(newClientId, credential, f.id());
            });
        } catch (DataIntegrityViolationException e) {
            throw new ClientApiException(Kind.ALREADY_EXISTS, "a client named '" + name + "' is already enrolled");
        }
        if (enrolment.clientId().equals(newClientId)) {
            log.info("client {} ('{}') enrolled in federation {}", enrolment.clientId(), name, enrolment.federationId());
        } else {
            log.info("client {} ('{}') of federation {} enrolled again with its token (a lost response retried);"
                    + " it has a new credential, the earlier one no longer works",
                    enrolment.clientId(), name, enrolment.federationId());
        }
        return enrolment;
    }

    /**
     * An agent's retry after a lost Enrol response: the token's client, under the same name, not revoked and never
     * heard from since it enrolled, gets a fresh credential (only credential hashes are stored, so the first one
     * cannot be sent again) and the first stops working. Once the client has called in, its enrolment evidently
     * arrived and the used token enrols nothing more; a different name never reuses a used token.
     */
    private Optional<Enrolment> retried(String tokenHash, Instant now, String name, String credential) {
        return tokens.lockUsed(tokenHash, now).flatMap(used -> clients.find(used.clientId())
                .filter(c -> c.name().equals(name))
                .filter(c -> !heartbeats.hasPending(c.id())) // it called in; that beat is not written yet
                .filter(c -> clients.rotateUnusedCredential(c.id(), Secrets.hash(credential)))
                .map(c -> new Enrolment(c.id(), credential, c.federationId())));
    }

    /** Resolves a bearer credential; UNAUTHENTICATED if unknown, PERMISSION_DENIED if revoked. */
    public AuthenticatedClient authenticate(String credential) {
        if (credential == null || credential.isBlank()) {
            throw new ClientApiException(Kind.UNAUTHENTICATED, "a bearer credential is required");
        }
        CredentialHolder c = clients.byCredentialHash(Secrets.hash(credential))
                .orElseThrow(() -> new ClientApiException(Kind.UNAUTHENTICATED, "unknown credential"));
        if (c.revokedAt() != null) {
            throw new ClientApiException(Kind.PERMISSION_DENIED, "client " + c.id() + " was revoked at " + c.revokedAt());
        }
        return new AuthenticatedClient(c.id(), c.name(), c.federationId());
    }
}
