package io.fedlora.coordinator.client;

import io.fedlora.coordinator.admin.AuditLog;
import io.fedlora.coordinator.admin.ConflictException;
import io.fedlora.coordinator.admin.NotFoundException;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.federation.FederationRepository;
import io.fedlora.coordinator.round.Signals;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.stereotype.Service;
import org.springframework.transaction.support.TransactionTemplate;

/** Admin operations on clients: issuing and revoking enrolment tokens, listing and revoking clients. */
@Service
public class ClientService {

    private static final Logger log = LoggerFactory.getLogger(ClientService.class);

    /** A freshly issued token; {@code token} is shown once and only its hash is stored. */
    public record IssuedToken(String id, String token, Instant expiresAt) {
        /** Without the token itself: only its id may reach a log. */
        @Override
        public String toString() {
            return "IssuedToken[id=" + id + ", token=***, expiresAt=" + expiresAt + "]";
        }
    }

    private final FederationRepository federations;
    private final ClientRepository clients;
    private final EnrolmentTokenRepository tokens;
    private final Secrets secrets;
    private final AuditLog audit;
    private final Signals signals;
    private final TransactionTemplate tx;
    private final java.time.Clock clock;
    private final HeartbeatLog heartbeats;

    public ClientService(FederationRepository federations, ClientRepository clients, EnrolmentTokenRepository tokens,
            Secrets secrets, AuditLog audit, Signals signals, TransactionTemplate tx, java.time.Clock clock,
            HeartbeatLog heartbeats) {
        this.federations = federations;
        this.clients = clients;
        this.heartbeats = heartbeats;
        this.tokens = tokens;
        this.secrets = secrets;
        this.audit = audit;
        this.signals = signals;
        this.tx = tx;
        this.clock = clock;
    }

    public List<IssuedToken> issueTokens(String federationId, int count, Duration ttl, String actor) {
        return tx.execute(s -> {
            Federation f = federations.lock(federationId)
                    .orElseThrow(() -> new NotFoundException("no federation " + federationId));
            if (f.status().isTerminal()) {
                throw new ConflictException("federation " + federationId + " is " + f.status() + "; it takes no new clients");
            }
            Instant expires = clock.instant().plus(ttl);
            List<IssuedToken> out = new ArrayList<>();
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                String id = UUID.randomUUID().toString();
                String token = secrets.newSecret();
                tokens.insert(id, federationId, Secrets.hash(token), expires);
                out.add(new IssuedToken(id, token, expires));
                ids.add(id);
            }
            audit.record(actor, "enrolment-tokens.issue", federationId, f.name(),
                    Map.of("count", count, "ttlSeconds", ttl.toSeconds(), "tokenIds", ids));
            return out;
        });
    }

    public void revokeToken(String tokenId, String actor) {
        tx.executeWithoutResult(s -> {
            String federationId = tokens.revoke(tokenId)
                    .orElseThrow(() -> new NotFoundException("no unused, unrevoked enrolment token " + tokenId));
            audit.record(actor, "enrolment-token.revoke", federationId, tokenId, Map.of());
        });
    }

    public ClientRecord revokeClient(String clientId, String actor) {
        ClientRecord c = tx.execute(s -> {
            ClientRecord client = clients.find(clientId).orElseThrow(() -> new NotFoundException("no client " + clientId));
            if (!clients.revoke(clientId)) {
                throw new ConflictException("client " + clientId + " is already revoked");
            }
            audit.record(actor, "client.revoke", client.federationId(), clientId, Map.of("name", client.name()));
            signals.federationChanged(client.federationId());
            return client;
        });
        log.info("client {} ('{}') revoked by {}", clientId, c.name(), actor);
        heartbeats.flush();
        return clients.find(clientId).orElseThrow();
    }

    public List<ClientRecord> list(String federationId) {
        federations.find(federationId).orElseThrow(() -> new NotFoundException("no federation " + federationId));
        heartbeats.flush(); // the listing shows what clients last said, including beats not written yet
        return clients.list(federationId);
    }
}
