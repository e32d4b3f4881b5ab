package io.fedlora.coordinator.admin;

import io.swagger.v3.oas.annotations.Operation;
import io.swagger.v3.oas.annotations.tags.Tag;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import java.util.List;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/** Admin REST: the audit log, newest first. */
@RestController
@Tag(name = "audit", description = "who did what, newest first")
public class AuditController {

    private final AuditLog audit;

    public AuditController(AuditLog audit) {
        this.audit = audit;
    }

    @GetMapping("/api/v1/audit")
    @Operation(summary = "Read the audit log", description = "The latest entries, newest first.")
    public List<AuditLog.AuditEntry> recent(@RequestParam(defaultValue = "100") @Min(1) @Max(10000) int limit) {
        return audit.recent(limit);
    }
}
