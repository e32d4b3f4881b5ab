package io.fedlora.coordinator.openapi;

import io.swagger.v3.oas.annotations.media.Content;
import io.swagger.v3.oas.annotations.media.Schema;
import io.swagger.v3.oas.annotations.responses.ApiResponse;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Documents a 409 answer with its problem body on an admin operation whose request can clash with the current
 * state (a federation that is not in the state the transition needs, a name already taken, a client already
 * revoked). The shared 400/401/404 answers are added for every operation by {@link OpenApiConfiguration}.
 */
@Target(ElementType.METHOD)
@Retention(RetentionPolicy.RUNTIME)
@ApiResponse(responseCode = "409", description = "conflicts with the current state (the problem's detail says which)",
        content = @Content(mediaType = OpenApiConfiguration.PROBLEM_JSON, schema = @Schema(implementation = ApiProblem.class)))
public @interface ConflictResponse {}
