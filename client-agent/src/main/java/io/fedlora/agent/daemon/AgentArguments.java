package io.fedlora.agent.daemon;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Maps the agent's short command-line options ({@code --coordinator HOST:PORT}, {@code --token T},
 * {@code --data DIR}, {@code --work-dir DIR}, {@code --name N}, ...) to their {@code fedlora.agent.*} Spring
 * properties, in either {@code --opt value} or {@code --opt=value} form. Anything else passes through.
 */
public final class AgentArguments {

    private static final Map<String, String> OPTIONS = Map.of(
            "coordinator", "coordinator",
            "token", "token",
            "name", "name",
            "data", "data-dir",
            "data-dir", "data-dir",
            "work-dir", "work-dir",
            "omp-threads", "omp-threads",
            "bad-lines", "bad-lines",
            "heartbeat-interval", "heartbeat-interval");

    private AgentArguments() {}

    public static String[] toSpringArgs(String[] args) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (!arg.startsWith("--")) {
                out.add(arg);
                continue;
            }
            String body = arg.substring(2);
            int eq = body.indexOf('=');
            String key = eq < 0 ? body : body.substring(0, eq);
            String property = OPTIONS.get(key);
            if (property == null) {
                out.add(arg);
                continue;
            }
            String value;
            if (eq >= 0) {
                value = body.substring(eq + 1);
            } else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
                value = args[++i];
            } else {
                throw new IllegalArgumentException("--" + key + " needs a value");
            }
            out.add("--fedlora.agent." + property + "=" + value);
        }
        return out.toArray(String[]::new);
    }
}
