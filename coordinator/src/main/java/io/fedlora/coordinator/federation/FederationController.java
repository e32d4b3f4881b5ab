package io.fedlora.coordinator.federation;

import io.fedlora.coordinator.openapi.ConflictResponse;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.validation.Valid;
import java.net.URI;
import java.util.List;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/** Admin REST: create, list, inspect and drive federations. */
@RestController
@RequestMapping("/api/v1/federations")
@Tag(name = "federations", description = "create, list, inspect and drive federations")
public class FederationController {

    static final String ACTOR = "admin-api";

    private final FederationService service;

    public FederationController(FederationService service) {
        this.service = service;
    }

    @PostMapping
    @Operation(summary = "Create a federation", description = "Only name and the base model (baseModelPath or baseModel, exactly one) are required; everything else takes the documented default. The federation starts in CREATED.")
    @ApiResponse(responseCode = "201", description = "created; Location names the new federation")
    public ResponseEntity<Federation> create(@Valid @RequestBody FederationSpec spec) {
        Federation f = service.create(spec, ACTOR);
        return ResponseEntity.created(URI.create("/api/v1/federations/" + f.id())).body(f);
    }

    @GetMapping
    @Operation(summary = "List federations")
    public List<Federation> list() {
        return service.list();
    }

    @GetMapping("/{id}")
    @Operation(summary = "Get a federation", description = "Its spec, status, current round and timestamps.")
    public Federation get(@PathVariable String id) {
        return service.get(id);
    }

    @PostMapping("/{id}/start")
    @Operation(summary = "Start a CREATED federation", description = "Rounds begin once enough enrolled clients heartbeat.")
    @ApiResponse(responseCode = "200", description = "the federation in its new state")
    @ConflictResponse
    public Federation start(@PathVariable String id) {
        return service.start(id, ACTOR);
    }

    @PostMapping("/{id}/pause")
    @Operation(summary = "Pause a RUNNING federation", description = "No new round opens until it is resumed.")
    @ApiResponse(responseCode = "200", description = "the federation in its new state")
    @ConflictResponse
    public Federation pause(@PathVariable String id) {
        return service.pause(id, ACTOR);
    }

    @PostMapping("/{id}/resume")
    @Operation(summary = "Resume a PAUSED federation")
    @ApiResponse(responseCode = "200", description = "the federation in its new state")
    @ConflictResponse
    public Federation resume(@PathVariable String id) {
        return service.resume(id, ACTOR);
    }

    @PostMapping("/{id}/cancel")
    @Operation(summary = "Cancel a federation that has not ended", description = "Clients are told DONE.")
    @ApiResponse(responseCode = "200", description = "the federation in its new state")
    @ConflictResponse
    public Federation cancel(@PathVariable String id) {
        return service.cancel(id, ACTOR);
    }
}
