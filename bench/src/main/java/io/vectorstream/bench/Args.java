package io.vectorstream.bench;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** {@code --name value} and {@code --flag} options, with the usage message on any mistake. */
final class Args {
    private final Map<String, String> values = new HashMap<>();
    private final String usage;

    Args(String[] args, int from, String usage) {
        this.usage = usage;
        for (int i = from; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) throw fail("unexpected argument '" + a + "'");
            String name = a.substring(2), value = "true";
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            } else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
                value = args[++i];
            }
            values.put(name, value);
        }
    }

    IllegalArgumentException fail(String message) {
        return new IllegalArgumentException(message + "\n" + usage);
    }

    String string(String name, String def) {
        String v = values.get(name);
        if (v == null && def == null) throw fail("--" + name + " is required");
        return v == null ? def : v;
    }

    int integer(String name, int def) {
        String v = values.get(name);
        try {
            return v == null ? def : Integer.parseInt(v.replace("_", ""));
        } catch (NumberFormatException e) {
            throw fail("--" + name + " must be an integer, was '" + v + "'");
        }
    }

    long longValue(String name, long def) {
        String v = values.get(name);
        return v == null ? def : Long.parseLong(v);
    }

    boolean flag(String name) {
        return Boolean.parseBoolean(values.getOrDefault(name, "false"));
    }

    List<Integer> ints(String name, String def) {
        List<Integer> out = new ArrayList<>();
        for (String s : string(name, def).split(",")) if (!s.isBlank()) out.add(Integer.parseInt(s.trim()));
        return out;
    }
}
