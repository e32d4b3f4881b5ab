package io.fedlora.coordinator.admin;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import java.util.List;
import org.springframework.validation.annotation.Validated;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

/** Admin REST: the audit log, newest first. */
@RestController
@Validated
public class AuditController {

    private final AuditLog audit;

    public AuditController(AuditLog audit) {
        this.audit = audit;
    }

    @GetMapping("/api/v1/audit")
    public List<AuditLog.AuditEntry> recent(@RequestParam(defaultValue = "100") @Min(1) @Max(10000) int limit) {
        return audit.recent(limit);
    }
}
