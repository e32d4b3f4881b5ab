package io.fedlora.aggregation.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** {@code --name value} / {@code --flag} options, repeatable, checked against the options a command knows. */
final class CliArgs {

    private final Map<String, List<String>> values = new LinkedHashMap<>();

    CliArgs(List<String> args, Set<String> valued, Set<String> flags) {
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (!a.startsWith("--")) {
                throw new CliException("unexpected argument '" + a + "'");
            }
            String name = a.substring(2);
            String value = null;
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            }
            if (flags.contains(name)) {
                if (value != null) {
                    throw new CliException("--" + name + " takes no value");
                }
                values.computeIfAbsent(name, k -> new ArrayList<>()).add("true");
            } else if (valued.contains(name)) {
                if (value == null) {
                    if (i + 1 >= args.size()) {
                        throw new CliException("--" + name + " needs a value");
                    }
                    value = args.get(++i);
                }
                values.computeIfAbsent(name, k -> new ArrayList<>()).add(value);
            } else {
                throw new CliException("unknown option --" + name);
            }
        }
    }

    boolean flag(String name) {
        return values.containsKey(name);
    }

    List<String> all(String name) {
        return values.getOrDefault(name, List.of());
    }

    String get(String name, String def) {
        List<String> v = values.get(name);
        if (v == null) {
            return def;
        }
        if (v.size() > 1) {
            throw new CliException("--" + name + " given more than once");
        }
        return v.get(0);
    }

    String required(String name) {
        String v = get(name, null);
        if (v == null) {
            throw new CliException("missing --" + name);
        }
        return v;
    }

    int intValue(String name, int def) {
        String v = get(name, null);
        if (v == null) {
            return def;
        }
        try {
            int n = Integer.parseInt(v);
            if (n <= 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new CliException("--" + name + " must be a positive integer, got '" + v + "'");
        }
    }
}
