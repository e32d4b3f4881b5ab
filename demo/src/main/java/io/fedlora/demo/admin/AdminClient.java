package io.fedlora.demo.admin;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Client of the coordinator's REST admin API ({@code /api/v1}, header {@code X-API-Key}) over
 * {@code java.net.http}. Answers other than 2xx become {@link AdminApiException}s carrying the
 * RFC 9457 problem body.
 */
public final class AdminClient {

    public static final String API_KEY_HEADER = "X-API-Key";

    private final URI base;
    private final String apiKey;
    private final ObjectMapper mapper;
    private final HttpClient http;

    /** @param baseUri the coordinator's HTTP root, e.g. {@code http://127.0.0.1:8080} */
    public AdminClient(URI baseUri, String apiKey, ObjectMapper mapper) {
        this.base = URI.create(baseUri.toString().replaceAll("/+$", "") + "/api/v1/");
        this.apiKey = apiKey;
        this.mapper = mapper;
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    }

    public FederationView createFederation(FederationSpec spec) {
        return FederationView.from(send("POST", "federations", spec));
    }

    /** Issues {@code count} one-time enrolment tokens for the federation. */
    public List<String> issueEnrolmentTokens(String federationId, int count, int ttlSeconds) {
        JsonNode json = send("POST", "federations/" + federationId + "/enrolment-tokens",
                Map.of("count", count, "ttlSeconds", ttlSeconds));
        List<String> tokens = new ArrayList<>();
        for (JsonNode token : json.path("tokens")) {
            tokens.add(token.asText());
        }
        if (tokens.size() != count) {
            throw new IllegalStateException("asked for " + count + " enrolment tokens, got " + tokens.size() + ": " + json);
        }
        return tokens;
    }

    public FederationView start(String federationId) {
        return FederationView.from(send("POST", "federations/" + federationId + "/start", null));
    }

    public FederationView cancel(String federationId) {
        return FederationView.from(send("POST", "federations/" + federationId + "/cancel", null));
    }

    /** Every federation the coordinator knows, as it lists them. */
    public List<FederationView> federations() {
        List<FederationView> out = new ArrayList<>();
        for (JsonNode f : send("GET", "federations", null)) {
            out.add(FederationView.from(f));
        }
        return out;
    }

    public FederationView federation(String federationId) {
        return FederationView.from(send("GET", "federations/" + federationId, null));
    }

    public List<RoundView> rounds(String federationId) {
        List<RoundView> rounds = new ArrayList<>();
        for (JsonNode round : send("GET", "federations/" + federationId + "/rounds", null)) {
            rounds.add(RoundView.parse(round));
        }
        return rounds;
    }

    /** The federation's clients as the API lists them (id, name, status, lastHeartbeat, ...). */
    public JsonNode clients(String federationId) {
        return send("GET", "federations/" + federationId + "/clients", null);
    }

    /** The federation's clients with the state of their last heartbeat. */
    public List<ClientView> clientViews(String federationId) {
        List<ClientView> out = new ArrayList<>();
        for (JsonNode c : clients(federationId)) {
            out.add(ClientView.from(c));
        }
        return out;
    }

    public void revokeClient(String clientId) {
        send("POST", "clients/" + clientId + "/revoke", null);
    }

    /** Published model versions, ascending. */
    public List<Long> modelVersions(String federationId) {
        JsonNode json = send("GET", "federations/" + federationId + "/models", null);
        List<Long> versions = new ArrayList<>();
        for (JsonNode model : json) {
            versions.add(model.isNumber() ? model.asLong() : model.path("version").asLong());
        }
        versions.sort(null);
        return versions;
    }

    /** Downloads the export zip of a model version to {@code zipFile}. */
    public void exportModel(String federationId, long version, Path zipFile) {
        String path = "federations/" + federationId + "/models/" + version + "/export";
        HttpRequest request = request(path).GET().timeout(Duration.ofMinutes(2)).build();
        try {
            Files.createDirectories(zipFile.toAbsolutePath().getParent());
            Path partial = zipFile.resolveSibling(zipFile.getFileName() + ".part");
            HttpResponse<Path> response = http.send(request, HttpResponse.BodyHandlers.ofFile(partial));
            if (response.statusCode() / 100 != 2) {
                String body = Files.readString(partial);
                Files.deleteIfExists(partial);
                throw new AdminApiException("GET " + path, response.statusCode(), body);
            }
            Files.move(partial, zipFile, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("GET " + path + " failed: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted during GET " + path, e);
        }
    }

    /**
     * Sends a request and returns the raw answer whatever its status, for callers that check error
     * answers themselves. {@code body} is serialised as JSON when not null.
     */
    public HttpResponse<String> exchange(String method, String path, Object body, boolean withApiKey) {
        HttpRequest.Builder builder = withApiKey ? request(path) : HttpRequest.newBuilder(base.resolve(path));
        builder.timeout(Duration.ofSeconds(30)).header("Accept", "application/json, application/problem+json");
        if (body == null) {
            builder.method(method, HttpRequest.BodyPublishers.noBody());
        } else {
            builder.header("Content-Type", "application/json")
                    .method(method, HttpRequest.BodyPublishers.ofString(toJson(body)));
        }
        try {
            return http.send(builder.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(method + " " + base.resolve(path) + " failed: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted during " + method + " " + path, e);
        }
    }

    private JsonNode send(String method, String path, Object body) {
        HttpResponse<String> response = exchange(method, path, body, true);
        if (response.statusCode() / 100 != 2) {
            throw new AdminApiException(method + " /api/v1/" + path, response.statusCode(), response.body());
        }
        try {
            String text = response.body();
            return text == null || text.isBlank() ? mapper.createObjectNode() : mapper.readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(method + " /api/v1/" + path + " returned invalid JSON: " + e.getOriginalMessage(), e);
        }
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(base.resolve(path)).header(API_KEY_HEADER, apiKey);
    }

    private String toJson(Object body) {
        try {
            return mapper.writeValueAsString(body);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot serialise request body: " + e.getOriginalMessage(), e);
        }
    }
}
