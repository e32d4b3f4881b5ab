package io.fedlora.coordinator.admin;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;

/** Requires a valid {@code X-API-Key} header on {@code /api/**}; answers 401 with a problem body otherwise. */
@Component
public class ApiKeyFilter extends OncePerRequestFilter {

    public static final String HEADER = "X-API-Key";

    private final AdminApiKey key;

    public ApiKeyFilter(AdminApiKey key) {
        this.key = key;
    }

    @Override
    protected boolean shouldNotFilter(HttpServletRequest request) {
        String path = request.getRequestURI().substring(request.getContextPath().length());
        return !path.startsWith("/api/");
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        if (key.matches(request.getHeader(HEADER))) {
            chain.doFilter(request, response);
            return;
        }
        boolean missing = request.getHeader(HEADER) == null;
        response.setStatus(HttpServletResponse.SC_UNAUTHORIZED);
        response.setContentType("application/problem+json");
        response.setHeader("WWW-Authenticate", "ApiKey header=\"" + HEADER + "\"");
        response.getWriter().write("{\"type\":\"about:blank\",\"title\":\"Unauthorized\",\"status\":401,\"detail\":\""
                + (missing ? "missing " + HEADER + " header" : "invalid " + HEADER) + "\",\"instance\":\""
                + request.getRequestURI().replace("\"", "") + "\"}");
    }
}
