package io.fedlora.coordinator.security;

import io.fedlora.coordinator.admin.AdminApiKey;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.List;
import org.springframework.security.authentication.AbstractAuthenticationToken;
import org.springframework.security.core.authority.SimpleGrantedAuthority;
import org.springframework.security.core.context.SecurityContext;
import org.springframework.security.core.context.SecurityContextHolder;
import org.springframework.security.core.context.SecurityContextHolderStrategy;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * Authenticates a request that carries the admin key in {@code X-API-Key}. It decides nothing itself: a request
 * without a valid key simply stays unauthenticated, and the chain's deny-by-default rule answers 401.
 */
public class ApiKeyAuthenticationFilter extends OncePerRequestFilter {

    public static final String HEADER = "X-API-Key";
    public static final String ROLE = "ROLE_ADMIN";

    private final AdminApiKey key;
    private final SecurityContextHolderStrategy contexts = SecurityContextHolder.getContextHolderStrategy();

    public ApiKeyAuthenticationFilter(AdminApiKey key) {
        this.key = key;
    }

    @Override
    protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
            throws ServletException, IOException {
        String presented = request.getHeader(HEADER);
        if (presented != null && key.matches(presented)) {
            SecurityContext context = contexts.createEmptyContext();
            context.setAuthentication(new AdminAuthentication());
            contexts.setContext(context);
        }
        chain.doFilter(request, response);
    }

    /** The one principal the admin API knows: whoever holds the key. */
    static final class AdminAuthentication extends AbstractAuthenticationToken {
        AdminAuthentication() {
            super(List.of(new SimpleGrantedAuthority(ROLE)));
            setAuthenticated(true);
        }

        @Override
        public Object getCredentials() {
            return "";
        }

        @Override
        public Object getPrincipal() {
            return "admin";
        }
    }
}
