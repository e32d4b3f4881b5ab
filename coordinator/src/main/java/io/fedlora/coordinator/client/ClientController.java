package io.fedlora.coordinator.client;

import io.fedlora.coordinator.openapi.ConflictResponse;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

/** Admin REST: enrolment tokens and clients. */
@RestController
@RequestMapping("/api/v1")
@Tag(name = "clients", description = "enrolment tokens and enrolled clients")
public class ClientController {

    private static final String ACTOR = "admin-api";

    /** How many tokens to issue and how long they stay usable. */
    public record TokenRequest(@Min(1) @Max(1000) Integer count, @Min(1) @Max(31_536_000) Long ttlSeconds) {
        public TokenRequest {
            count = count == null ? 1 : count;
            ttlSeconds = ttlSeconds == null ? 3600L : ttlSeconds;
        }
    }

    /** The tokens (shown once) and, per token, the id to revoke it by. */
    public record TokenResponse(List<String> tokens, List<TokenItem> items) {
        /** Without the tokens (JSON serialisation uses the accessors, not this). */
        @Override
        public String toString() {
            return "TokenResponse[tokens=" + tokens.size() + " x ***, items=" + items + "]";
        }
    }

    public record TokenItem(String id, String token, Instant expiresAt) {
        @Override
        public String toString() {
            return "TokenItem[id=" + id + ", token=***, expiresAt=" + expiresAt + "]";
        }
    }

    private final ClientService service;

    public ClientController(ClientService service) {
        this.service = service;
    }

    @PostMapping("/federations/{id}/enrolment-tokens")
    @Operation(summary = "Issue one-time enrolment tokens", description = "The tokens are shown once, in this answer only; the body is optional (1 token, valid 3600 s).")
    @ApiResponse(responseCode = "201", description = "issued")
    @ConflictResponse
    @ResponseStatus(HttpStatus.CREATED)
    public TokenResponse issue(@PathVariable String id, @Valid @RequestBody(required = false) TokenRequest body) {
        TokenRequest r = body == null ? new TokenRequest(null, null) : body;
        List<ClientService.IssuedToken> issued = service.issueTokens(id, r.count(), Duration.ofSeconds(r.ttlSeconds()), ACTOR);
        return new TokenResponse(issued.stream().map(ClientService.IssuedToken::token).toList(),
                issued.stream().map(t -> new TokenItem(t.id(), t.token(), t.expiresAt())).toList());
    }

    @DeleteMapping("/enrolment-tokens/{tokenId}")
    @Operation(summary = "Revoke an unused enrolment token")
    @ApiResponse(responseCode = "204", description = "revoked")
    @ResponseStatus(HttpStatus.NO_CONTENT)
    public void revokeToken(@PathVariable String tokenId) {
        service.revokeToken(tokenId, ACTOR);
    }

    @GetMapping("/federations/{id}/clients")
    @Operation(summary = "List a federation's clients", description = "With the state, device and time of their last heartbeat.")
    public List<ClientRecord> clients(@PathVariable String id) {
        return service.list(id);
    }

    @PostMapping("/clients/{id}/revoke")
    @Operation(summary = "Revoke a client", description = "Its credential stops working at once.")
    @ApiResponse(responseCode = "200", description = "the client, revokedAt set")
    @ConflictResponse
    public ClientRecord revoke(@PathVariable String id) {
        return service.revokeClient(id, ACTOR);
    }
}
