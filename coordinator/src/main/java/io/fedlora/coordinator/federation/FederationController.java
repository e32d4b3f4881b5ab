package io.fedlora.coordinator.federation;

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
public class FederationController {

    static final String ACTOR = "admin-api";

    private final FederationService service;

    public FederationController(FederationService service) {
        this.service = service;
    }

    @PostMapping
    public ResponseEntity<Federation> create(@Valid @RequestBody FederationSpec spec) {
        Federation f = service.create(spec, ACTOR);
        return ResponseEntity.created(URI.create("/api/v1/federations/" + f.id())).body(f);
    }

    @GetMapping
    public List<Federation> list() {
        return service.list();
    }

    @GetMapping("/{id}")
    public Federation get(@PathVariable String id) {
        return service.get(id);
    }

    @PostMapping("/{id}/start")
    public Federation start(@PathVariable String id) {
        return service.start(id, ACTOR);
    }

    @PostMapping("/{id}/pause")
    public Federation pause(@PathVariable String id) {
        return service.pause(id, ACTOR);
    }

    @PostMapping("/{id}/resume")
    public Federation resume(@PathVariable String id) {
        return service.resume(id, ACTOR);
    }

    @PostMapping("/{id}/cancel")
    public Federation cancel(@PathVariable String id) {
        return service.cancel(id, ACTOR);
    }
}
