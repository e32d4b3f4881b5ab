package io.fedlora.coordinator.security;

import static org.assertj.core.api.Assertions.assertThat;

import io.fedlora.coordinator.support.CoordinatorTestBase;
import io.fedlora.coordinator.support.RawHttp;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.web.bind.annotation.RequestMethod;
import org.springframework.web.servlet.mvc.method.RequestMappingInfo;
import org.springframework.web.servlet.mvc.method.annotation.RequestMappingHandlerMapping;
import org.springframework.web.util.pattern.PathPattern;

/**
 * Every admin route, reached with every method it takes, through a table of path variants (encodings, path
 * parameters, duplicate slashes, dot segments, case, trailing characters, NUL, backslashes, detours through the
 * public paths): without the key each one is a 401 or 400 problem, never a 2xx or 3xx. The routes are read from
 * Spring MVC's handler mapping, so a route added later is covered without touching this test.
 */
class AdminPathVariantsTest extends CoordinatorTestBase {

    /** Public paths (opened on purpose) whose handlers are in the MVC mapping; everything else is an admin route. */
    private static final List<String> PUBLIC_PREFIXES = List.of("/v3/api-docs", "/swagger-ui", "/dashboard");
    private static final String SAMPLE_ID = "00000000-0000-4000-8000-000000000001";

    @LocalServerPort int port;
    @Autowired @Qualifier("requestMappingHandlerMapping") RequestMappingHandlerMapping mvc;

    /** The canonical admin routes with a sample value in each path variable, and the methods each takes. */
    private Map<String, Set<String>> adminRoutes() {
        Map<String, Set<String>> routes = new LinkedHashMap<>();
        for (RequestMappingInfo info : mvc.getHandlerMethods().keySet()) {
            Set<String> methods = new TreeSet<>();
            info.getMethodsCondition().getMethods().forEach(m -> methods.add(m.name()));
            if (methods.isEmpty()) {
                Stream.of(RequestMethod.GET, RequestMethod.POST, RequestMethod.PUT, RequestMethod.PATCH, RequestMethod.DELETE)
                        .forEach(m -> methods.add(m.name()));
            }
            if (methods.contains("GET")) {
                methods.add("HEAD");
            }
            for (PathPattern pattern : info.getPathPatternsCondition().getPatterns()) {
                String path = pattern.getPatternString();
                if (path.equals("/error") || PUBLIC_PREFIXES.stream().anyMatch(path::startsWith)) {
                    continue;
                }
                String concrete = path.replaceAll("\\{version}", "1").replaceAll("\\{[^}]+}", SAMPLE_ID);
                routes.computeIfAbsent(concrete, k -> new TreeSet<>()).addAll(methods);
            }
        }
        // the actuator endpoints that are not public live in their own handler mapping
        routes.put("/actuator", new TreeSet<>(Set.of("GET")));
        routes.put("/actuator/info", new TreeSet<>(Set.of("GET")));
        return routes;
    }

    /** Each variant names a way of spelling (or smuggling) a path; all must end in 400 or 401. */
    static Map<String, UnaryOperator<String>> variants() {
        Map<String, UnaryOperator<String>> v = new LinkedHashMap<>();
        v.put("canonical", p -> p);
        v.put("percent-encoded first letter", p -> "/%" + Integer.toHexString(p.charAt(1)) + p.substring(2));
        v.put("percent-encoded upper-case hex", p -> "/%" + Integer.toHexString(p.charAt(1)).toUpperCase() + p.substring(2));
        v.put("every letter of the last segment encoded", RawVariants::encodeLastSegment);
        v.put("path parameter on the first segment", p -> p.replaceFirst("^/api", "/api;x"));
        v.put("path parameter on a middle segment", p -> p.replaceFirst("/v1", "/v1;x=1"));
        v.put("path parameter at the end", p -> p + ";jsessionid=0");
        v.put("empty path parameter", p -> p.replaceFirst("^/api", "/api;"));
        v.put("leading double slash", p -> "/" + p);
        v.put("inner double slash", p -> p.replaceFirst("/v1", "//v1"));
        v.put("trailing double slash", p -> p + "//");
        v.put("dot segment", p -> p.replaceFirst("/v1", "/./v1"));
        v.put("leading dot segment", p -> "/." + p);
        v.put("dot-dot segment", p -> p.replaceFirst("/v1", "/x/../v1"));
        v.put("encoded dot segment", p -> p.replaceFirst("/v1", "/%2e/v1"));
        v.put("encoded dot-dot segment", p -> p.replaceFirst("/v1", "/x/%2e%2e/v1"));
        v.put("mixed encoded dot-dot", p -> p.replaceFirst("/v1", "/x/.%2E/v1"));
        v.put("detour through health", p -> "/actuator/health/../.." + p);
        v.put("detour through health with parameters", p -> "/actuator/health/..;/..;" + p);
        v.put("detour through the dashboard", p -> "/dashboard/.." + p);
        v.put("encoded detour through the dashboard", p -> "/dashboard/%2e%2e" + p);
        v.put("detour through swagger-ui with encoded slashes", p -> "/swagger-ui/..%2f.." + p);
        v.put("detour through api-docs", p -> "/v3/api-docs/../.." + p);
        v.put("detour through prometheus", p -> "/actuator/prometheus/.." + p);
        v.put("upper case", p -> p.toUpperCase());
        v.put("upper-case first segment", p -> p.replaceFirst("^/api", "/API"));
        v.put("mixed case", p -> p.replaceFirst("^/api/v1", "/Api/V1"));
        v.put("trailing slash", p -> p + "/");
        v.put("suffix .json", p -> p + ".json");
        v.put("trailing encoded space", p -> p + "%20");
        v.put("trailing NUL", p -> p + "%00");
        v.put("inner NUL", p -> p.replaceFirst("/v1", "/v1%00"));
        v.put("trailing encoded newline", p -> p + "%0a");
        v.put("trailing encoded CRLF", p -> p + "%0d%0a");
        v.put("encoded tab", p -> p.replaceFirst("/v1", "/v1%09"));
        v.put("encoded slash", p -> p.replaceFirst("/v1", "%2Fv1"));
        v.put("encoded slash lower case", p -> p.replace("/", "%2f").replaceFirst("^%2f", "/"));
        v.put("raw backslash", p -> p.replaceFirst("/v1", "\\\\v1"));
        v.put("encoded backslash", p -> p.replaceFirst("/v1", "%5Cv1"));
        v.put("encoded percent", p -> p.replaceFirst("/v1", "/%25v1"));
        v.put("overlong UTF-8 dot", p -> p.replaceFirst("/v1", "/%c0%ae/v1"));
        v.put("query string", p -> p + "?limit=1&x-api-key=guess");
        v.put("absolute-form target", p -> "http://127.0.0.1" + p);
        return v;
    }

    @TestFactory
    Stream<DynamicTest> everyAdminRouteInEverySpellingNeedsTheKey() {
        Map<String, Set<String>> routes = adminRoutes();
        assertThat(routes.keySet()).as("the admin routes found in the MVC mapping")
                .contains("/api/v1/audit", "/api/v1/federations", "/api/v1/federations/" + SAMPLE_ID + "/enrolment-tokens");
        List<DynamicTest> tests = new ArrayList<>();
        routes.forEach((path, methods) -> methods.forEach(method -> variants().forEach((name, variant) -> {
            String target = variant.apply(path);
            tests.add(DynamicTest.dynamicTest(method + " " + path + " [" + name + "] " + target, () -> {
                RawHttp.Response r = RawHttp.send(port, method, target, Map.of("Content-Type", "application/json"), "{}");
                assertThat(r.status()).as(method + " " + target + " answered " + r.status() + ": " + r.body()).isIn(400, 401);
                assertThat(r.header("Content-Type")).as(method + " " + target + " content type").startsWith("application/problem+json");
                if (r.status() == 401) {
                    assertThat(r.header("WWW-Authenticate")).as("401 names the scheme").contains("X-API-Key");
                }
            }));
        })));
        return tests.stream();
    }

    @TestFactory
    Stream<DynamicTest> aWrongKeyIsRefusedOnEveryRoute() {
        List<DynamicTest> tests = new ArrayList<>();
        adminRoutes().forEach((path, methods) -> methods.forEach(method -> {
            for (String wrong : List.of("wrong", API_KEY + "x", API_KEY.toUpperCase(), "x".repeat(API_KEY.length()), " ")) {
                tests.add(DynamicTest.dynamicTest(method + " " + path + " with key '" + wrong + "'", () -> {
                    RawHttp.Response r = RawHttp.send(port, method, path, Map.of("X-API-Key", wrong), null);
                    assertThat(r.status()).as(r.body()).isEqualTo(401);
                    assertThat(r.header("Content-Type")).startsWith("application/problem+json");
                }));
            }
        }));
        return tests.stream();
    }

    @TestFactory
    Stream<DynamicTest> withTheKeyTheCanonicalPathIsServed() {
        List<DynamicTest> tests = new ArrayList<>();
        adminRoutes().forEach((path, methods) -> methods.forEach(method ->
                tests.add(DynamicTest.dynamicTest(method + " " + path, () -> {
                    RawHttp.Response r = RawHttp.send(port, method, path,
                            Map.of("X-API-Key", API_KEY, "Content-Type", "application/json"), "{}");
                    assertThat(r.status()).as(method + " " + path + ": " + r.body()).isNotIn(401, 403);
                    assertThat(r.status()).as(method + " " + path + ": " + r.body()).isLessThan(500);
                }))));
        return tests.stream();
    }

    @Test
    void ambiguousPathsAreRefusedEvenWithTheKey() throws Exception {
        for (String target : List.of("/api;x/v1/audit", "/api//v1/audit", "/api/v1/./audit", "/api/x/../v1/audit",
                "/api%2Fv1/audit", "/api/v1/audit%00", "/api\\v1/audit", "/api/%2e/v1/audit")) {
            RawHttp.Response r = RawHttp.send(port, "GET", target, Map.of("X-API-Key", API_KEY), null);
            assertThat(r.status()).as(target + ": " + r.body()).isEqualTo(400);
            assertThat(r.header("Content-Type")).as(target).startsWith("application/problem+json");
            assertThat(r.body()).as("the rejected path is not echoed").doesNotContain("audit");
        }
    }

    @Test
    void onlyTheOpenedPathsAnswerWithoutAKey() throws Exception {
        for (String open : List.of("/actuator/health", "/actuator/health/liveness", "/actuator/health/readiness",
                "/actuator/prometheus", "/v3/api-docs")) {
            assertThat(RawHttp.send(port, "GET", open, Map.of(), null).status()).as(open).isEqualTo(200);
        }
        // an opened path is opened for reading only, and its neighbours are not opened at all
        assertThat(RawHttp.send(port, "POST", "/actuator/health", Map.of(), null).status()).isEqualTo(401);
        assertThat(RawHttp.send(port, "GET", "/actuator/healthz", Map.of(), null).status()).isEqualTo(401);
        assertThat(RawHttp.send(port, "GET", "/actuator/info", Map.of(), null).status()).isEqualTo(401);
        assertThat(RawHttp.send(port, "GET", "/no/such/path", Map.of(), null).status()).isEqualTo(401);
    }

    /** Helpers for variants that need more than a one-liner. */
    static final class RawVariants {
        static String encodeLastSegment(String p) {
            int cut = p.lastIndexOf('/') + 1;
            StringBuilder b = new StringBuilder(p.substring(0, cut));
            for (char c : p.substring(cut).toCharArray()) {
                b.append(Character.isLetter(c) ? "%" + Integer.toHexString(c) : String.valueOf(c));
            }
            return b.toString();
        }
    }
}
