package io.fedlora.coordinator.openapi;

import io.swagger.v3.oas.annotations.media.Schema;
import java.util.List;

/**
 * The RFC 9457 problem body every 4xx/5xx of the admin API carries ({@code application/problem+json}), as the
 * OpenAPI document describes it. Documentation only: the bodies themselves are Spring's {@code ProblemDetail}s
 * written by the admin package's problem handler and API-key filter.
 */
@Schema(name = "Problem", description = "RFC 9457 problem details")
public record ApiProblem(
        @Schema(description = "problem type URI", example = "about:blank") String type,
        @Schema(description = "short summary of the problem type", example = "Invalid request") String title,
        @Schema(description = "HTTP status code", example = "400") int status,
        @Schema(description = "what went wrong in this request", example = "rank: must be greater than or equal to 1")
        String detail,
        @Schema(description = "the request path", example = "/api/v1/federations") String instance,
        @Schema(description = "validation problems, one per offending field", nullable = true)
        List<FieldProblem> errors) {

    /** One invalid field of a request. */
    @Schema(name = "FieldProblem")
    public record FieldProblem(
            @Schema(description = "the field's JSON path", example = "training.batchSize") String field,
            @Schema(description = "why its value was refused", example = "must be less than or equal to 65536")
            String message) {}
}
