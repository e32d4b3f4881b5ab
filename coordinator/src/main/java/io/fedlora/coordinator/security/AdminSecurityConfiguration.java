package io.fedlora.coordinator.security;

import io.fedlora.coordinator.admin.AdminApiKey;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServletResponse;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.config.annotation.web.configuration.EnableWebSecurity;
import org.springframework.security.config.http.SessionCreationPolicy;
import org.springframework.security.web.SecurityFilterChain;
import org.springframework.security.web.authentication.AnonymousAuthenticationFilter;
import org.springframework.security.web.firewall.HttpFirewall;
import org.springframework.security.web.firewall.RequestRejectedHandler;
import org.springframework.security.web.firewall.StrictHttpFirewall;
import org.springframework.security.web.servlet.util.matcher.PathPatternRequestMatcher;

/**
 * The admin HTTP surface behind Spring Security: deny by default, a valid {@code X-API-Key} for everything except
 * the few public paths below, which are matched with {@link PathPatternRequestMatcher} on the same decoded,
 * normalised path Spring MVC's dispatcher routes on. Ambiguous paths (encoded slashes or percents, {@code ;}
 * parameters, dot segments, duplicate slashes, NUL and control characters, backslashes) are refused by the
 * {@link StrictHttpFirewall} with a 400 problem before anything is matched. gRPC is not served here: it has its
 * own listener and bearer authentication.
 */
@Configuration
@EnableWebSecurity
public class AdminSecurityConfiguration {

    /** Paths anyone may read: health probes, metrics, the OpenAPI document, Swagger UI and the dashboard's assets. */
    static final String[] PUBLIC_GET = {
        "/actuator/health", "/actuator/health/**", "/actuator/prometheus",
        "/v3/api-docs", "/v3/api-docs/**", "/v3/api-docs.yaml",
        "/swagger-ui.html", "/swagger-ui/**",
        "/dashboard", "/dashboard/**",
    };

    @Bean
    SecurityFilterChain adminSecurity(HttpSecurity http, AdminApiKey key) throws Exception {
        PathPatternRequestMatcher.Builder paths = PathPatternRequestMatcher.withDefaults();
        http.authorizeHttpRequests(auth -> {
                    auth.dispatcherTypeMatchers(DispatcherType.ERROR).permitAll();
                    for (String p : PUBLIC_GET) {
                        auth.requestMatchers(paths.matcher(org.springframework.http.HttpMethod.GET, p)).permitAll();
                        auth.requestMatchers(paths.matcher(org.springframework.http.HttpMethod.HEAD, p)).permitAll();
                    }
                    auth.anyRequest().hasAuthority(ApiKeyAuthenticationFilter.ROLE);
                })
                .addFilterBefore(new ApiKeyAuthenticationFilter(key), AnonymousAuthenticationFilter.class)
                .sessionManagement(s -> s.sessionCreationPolicy(SessionCreationPolicy.STATELESS))
                .requestCache(c -> c.disable())
                .securityContext(c -> c.requireExplicitSave(true))
                // the key travels in a header a browser never adds by itself, so there is no ambient credential to forge
                .csrf(c -> c.disable())
                .formLogin(f -> f.disable())
                .httpBasic(b -> b.disable())
                .logout(l -> l.disable())
                .exceptionHandling(e -> e
                        .authenticationEntryPoint((request, response, ex) -> {
                            response.setHeader("WWW-Authenticate", "ApiKey header=\"" + ApiKeyAuthenticationFilter.HEADER + "\"");
                            ProblemWriter.write(response, HttpServletResponse.SC_UNAUTHORIZED, "Unauthorized",
                                    request.getHeader(ApiKeyAuthenticationFilter.HEADER) == null
                                            ? "missing " + ApiKeyAuthenticationFilter.HEADER + " header"
                                            : "invalid " + ApiKeyAuthenticationFilter.HEADER);
                        })
                        .accessDeniedHandler((request, response, ex) -> ProblemWriter.write(response,
                                HttpServletResponse.SC_FORBIDDEN, "Forbidden", "not allowed")));
        return http.build();
    }

    /** Spring Security's strict firewall, left at its defaults: it refuses every ambiguous path listed above. */
    @Bean
    HttpFirewall httpFirewall() {
        return new StrictHttpFirewall();
    }

    /** A firewall rejection is the client's fault: a 400 problem that does not echo the path. */
    @Bean
    RequestRejectedHandler requestRejectedHandler() {
        return (request, response, ex) -> ProblemWriter.write(response, HttpServletResponse.SC_BAD_REQUEST,
                "Bad Request", "the request path is not in canonical form (encoded separators, path parameters, "
                        + "dot segments, duplicate slashes or control characters are refused)");
    }
}
