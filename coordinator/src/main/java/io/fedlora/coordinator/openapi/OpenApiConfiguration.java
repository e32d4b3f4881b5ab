package io.fedlora.coordinator.openapi;

import io.swagger.v3.core.converter.ModelConverters;
import io.swagger.v3.oas.models.Components;
import io.swagger.v3.oas.models.OpenAPI;
import io.swagger.v3.oas.models.Operation;
import io.swagger.v3.oas.models.info.Info;
import io.swagger.v3.oas.models.info.License;
import io.swagger.v3.oas.models.media.Content;
import io.swagger.v3.oas.models.media.MediaType;
import io.swagger.v3.oas.models.media.Schema;
import io.swagger.v3.oas.models.parameters.Parameter;
import io.swagger.v3.oas.models.responses.ApiResponse;
import io.swagger.v3.oas.models.responses.ApiResponses;
import io.swagger.v3.oas.models.security.SecurityRequirement;
import io.swagger.v3.oas.models.security.SecurityScheme;
import org.springdoc.core.customizers.GlobalOpenApiCustomizer;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The admin API's OpenAPI description ({@code /v3/api-docs}, browsable at {@code /swagger-ui.html}): title,
 * version and the {@code X-API-Key} scheme, required on every {@code /api/v1} operation. The error answers every
 * operation shares (401 without the key, 404 for an unknown path id, 400 for an invalid body or query) are added
 * here with their problem body, so controllers only declare what is particular to them (201, 204, 409).
 */
@Configuration
public class OpenApiConfiguration {

    public static final String SECURITY_SCHEME = "ApiKey";
    public static final String PROBLEM_JSON = "application/problem+json";
    private static final String API_PREFIX = "/api/v1/";

    @Bean
    OpenAPI fedloraOpenApi(@Value("${fedlora.version:unknown}") String version) {
        return new OpenAPI()
                .info(new Info().title("fedlora coordinator admin API")
                        .version(version.startsWith("@") ? "unknown" : version)
                        .description("""
                                Administers federated LoRA fine-tuning: register base models, create and drive \
                                federations, issue enrolment tokens, watch rounds (participants, exactness error, \
                                FedAvg deviation, evaluation), list clients and export published model versions. \
                                Every /api/v1 operation needs the admin API key in the X-API-Key header (the \
                                coordinator reads it from fedlora.admin.api-key / FEDLORA_ADMIN_API_KEY, or \
                                generates it into <data-dir>/admin-api-key at first start). Errors are RFC 9457 \
                                problem bodies (application/problem+json).""")
                        .license(new License().name("Apache-2.0")))
                .components(new Components()
                        .addSecuritySchemes(SECURITY_SCHEME, new SecurityScheme().type(SecurityScheme.Type.APIKEY)
                                .in(SecurityScheme.In.HEADER).name("X-API-Key")
                                .description("the coordinator's admin API key")));
    }

    /** Applies the key and the shared error answers to every admin operation. */
    @Bean
    GlobalOpenApiCustomizer adminApiErrors() {
        return openApi -> {
            Components components = openApi.getComponents();
            ModelConverters.getInstance().read(ApiProblem.class).forEach(components::addSchemas);
            if (openApi.getPaths() == null) {
                return;
            }
            openApi.getPaths().forEach((path, item) -> {
                if (path.startsWith(API_PREFIX)) {
                    item.readOperations().forEach(OpenApiConfiguration::document);
                }
            });
        };
    }

    private static void document(Operation op) {
        op.addSecurityItem(new SecurityRequirement().addList(SECURITY_SCHEME));
        ApiResponses responses = op.getResponses() == null ? new ApiResponses() : op.getResponses();
        op.setResponses(responses);
        boolean pathIds = op.getParameters() != null
                && op.getParameters().stream().map(Parameter::getIn).anyMatch("path"::equals);
        boolean input = op.getRequestBody() != null || (op.getParameters() != null
                && op.getParameters().stream().map(Parameter::getIn).anyMatch("query"::equals));
        if (input) {
            responses.putIfAbsent("400", problem("invalid request: the problem names the offending field(s)"));
        }
        responses.putIfAbsent("401", problem("X-API-Key header missing or wrong"));
        if (pathIds) {
            responses.putIfAbsent("404", problem("no such federation, client, token, model or version"));
        }
    }

    /** An error answer with the problem body. */
    static ApiResponse problem(String description) {
        return new ApiResponse().description(description).content(new Content().addMediaType(PROBLEM_JSON,
                new MediaType().schema(new Schema<>().$ref("#/components/schemas/Problem"))));
    }
}
