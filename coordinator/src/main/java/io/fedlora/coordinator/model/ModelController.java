package io.fedlora.coordinator.model;

import io.fedlora.coordinator.admin.AuditLog;
import io.fedlora.coordinator.admin.BusyException;
import io.fedlora.coordinator.admin.NotFoundException;
import io.fedlora.coordinator.federation.Federation;
import io.fedlora.coordinator.federation.FederationRepository;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpHeaders;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RestController;

/** Admin REST: a federation's published versions and their export as a zipped PEFT adapter + folded base. */
@RestController
@Tag(name = "models", description = "published model versions and their export")
public class ModelController {

    /** A published version as listed. */
    public record VersionView(long version,
            @Schema(nullable = true, description = "the round that published it; null for version 0, the base") Long roundId,
            String residualKind, Instant createdAt) {}

    private final FederationRepository federations;
    private final ModelVersionRepository versions;
    private static final Logger log = LoggerFactory.getLogger(ModelController.class);
    private static final java.time.Duration RETRY_EXPORT_AFTER = java.time.Duration.ofSeconds(10);

    private final ModelExporter exporter;
    private final ExportTransfer transfer;
    private final ExportSlots slots;
    private final AuditLog audit;

    public ModelController(FederationRepository federations, ModelVersionRepository versions, ModelExporter exporter,
            ExportTransfer transfer, ExportSlots slots, AuditLog audit) {
        this.transfer = transfer;
        this.slots = slots;
        this.federations = federations;
        this.versions = versions;
        this.exporter = exporter;
        this.audit = audit;
    }

    @GetMapping("/api/v1/federations/{id}/models")
    @Operation(summary = "List a federation's published model versions", description = "Version 0 is the base model.")
    public List<VersionView> list(@PathVariable String id) {
        federations.find(id).orElseThrow(() -> new NotFoundException("no federation " + id));
        return versions.list(id).stream()
                .map(v -> new VersionView(v.version(), v.roundId(), v.residualKind().name(), v.createdAt())).toList();
    }

    /**
     * The zip is built whole before the response starts (an export failure is a problem response, nothing sent),
     * then written with its exact Content-Length on this request thread: no async request timeout can cut it, and
     * if sending fails part way the connection is closed short of the declared length, which every HTTP client
     * reports as an error, never as a complete 200.
     */
    @GetMapping("/api/v1/federations/{id}/models/{version}/export")
    @Operation(summary = "Export a model version", description = "A zip with the federated model merged at the top (config.json, model.safetensors and the base's tokenizer files: a plain from_pretrained loads it), the PEFT adapter in adapter/ (adapter_config.json naming no base, adapter_model.safetensors) and the residual-folded base it belongs on in base/ (model.safetensors, no config.json: load it with the top level's config).")
    @ApiResponse(responseCode = "200", description = "the zip", content = @Content(mediaType = "application/zip", schema = @Schema(type = "string", format = "binary")))
    @ApiResponse(responseCode = "503", description = "fedlora.export.max-concurrent exports are being built; retry after the Retry-After seconds")
    public void export(@PathVariable String id, @PathVariable long version, HttpServletResponse response)
            throws IOException {
        Federation f = federations.find(id).orElseThrow(() -> new NotFoundException("no federation " + id));
        ModelVersion v = versions.find(id, version)
                .orElseThrow(() -> new NotFoundException("federation " + id + " has no version " + version));
        try (ExportSlots.Slot slot = slots.tryAcquire().orElseThrow(() -> new BusyException("the coordinator is"
                + " already building " + slots.max() + " exports (fedlora.export.max-concurrent); retry shortly",
                RETRY_EXPORT_AFTER))) {
            audit.record("admin-api", "model.export", id, "version " + version, Map.of("version", version));
            send(f, version, exporter.buildZip(f, v), response);
        }
    }

    private void send(Federation f, long version, Path zip, HttpServletResponse response) throws IOException {
        String id = f.id();
        String name = f.name().replaceAll("[^A-Za-z0-9._-]", "_") + "-v" + version + ".zip";
        try {
            long size = Files.size(zip);
            response.setStatus(HttpServletResponse.SC_OK);
            response.setContentType("application/zip");
            response.setHeader(HttpHeaders.CONTENT_DISPOSITION, "attachment; filename=\"" + name + "\"");
            response.setContentLengthLong(size);
            transfer.send(zip, response.getOutputStream());
            response.flushBuffer();
            log.info("federation {}: exported version {} ({} bytes)", id, version, size);
        } catch (IOException | RuntimeException e) {
            // committed: an error page cannot follow; rethrown, the container closes the connection short of the
            // declared length
            log.warn("federation {}: export of version {} failed while sending: {}", id, version, e.toString());
            throw e instanceof IOException io ? io : new IOException("export failed part way", e);
        } finally {
            Files.deleteIfExists(zip);
        }
    }
}
