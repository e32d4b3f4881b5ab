package io.fedlora.coordinator.model;

import io.fedlora.coordinator.openapi.ConflictResponse;
import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.validation.Valid;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.Pattern;
import java.net.URI;
import java.util.List;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/** Admin REST: register a base model once under a name, then create federations with {@code "baseModel": name}. */
@RestController
@RequestMapping("/api/v1/base-models")
@Tag(name = "base models", description = "register a base model once, then create federations on it by name")
public class BaseModelController {

    private static final String ACTOR = "admin-api";

    private final BaseModelRegistry registry;

    public BaseModelController(BaseModelRegistry registry) {
        this.registry = registry;
    }

    /** A registration request: the name to register under and the HF directory on the coordinator's disk. */
    public record Registration(
            @NotBlank @Pattern(regexp = BaseModelRegistry.NAME_PATTERN,
                    message = "must be 1-100 letters, digits, '.', '_' or '-', starting with a letter or digit") String name,
            @NotBlank String path) {
    }

    @PostMapping
    @Operation(summary = "Register a base model", description = "Validates the Hugging Face directory on the coordinator's disk and snapshots its files into the blob store.")
    @ApiResponse(responseCode = "201", description = "registered; Location names it")
    @ConflictResponse
    public ResponseEntity<RegisteredModel> register(@Valid @RequestBody Registration r) {
        RegisteredModel m = registry.register(r.name(), r.path(), ACTOR);
        return ResponseEntity.created(URI.create("/api/v1/base-models/" + m.name())).body(m);
    }

    @GetMapping
    @Operation(summary = "List registered base models")
    public List<RegisteredModel> list() {
        return registry.list();
    }

    @GetMapping("/{name}")
    @Operation(summary = "Get a registered base model")
    public RegisteredModel get(@PathVariable String name) {
        return registry.get(name);
    }
}
