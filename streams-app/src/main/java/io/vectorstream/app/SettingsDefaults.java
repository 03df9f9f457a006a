package io.vectorstream.app;

import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * Where an option that is not on the command line gets its value, in order: the environment
 * ({@code --http-port} from {@code VECTORSTREAM_HTTP_PORT}), then the config file given with
 * {@code --config} (a properties file: {@code http-port=8080}), then the option's built-in default.
 */
final class SettingsDefaults implements CommandLine.IDefaultValueProvider {
    static final String ENV_PREFIX = "VECTORSTREAM_";

    private final Map<String, String> env;
    private final Properties file;
    private final String path;

    SettingsDefaults(Map<String, String> env, Properties file) {
        this(env, file, null);
    }

    SettingsDefaults(Map<String, String> env, Properties file, String path) {
        this.env = env;
        this.file = file;
        this.path = path;
    }

    /** Reads the file named by {@code --config FILE}/{@code --config=FILE} in args, or by VECTORSTREAM_CONFIG. */
    static SettingsDefaults fromArgs(String[] args, Map<String, String> env) {
        String path = env.get(ENV_PREFIX + "CONFIG");
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--config") && i + 1 < args.length) path = args[i + 1];
            else if (args[i].startsWith("--config=")) path = args[i].substring("--config=".length());
        }
        Properties props = new Properties();
        if (path != null) {
            try (Reader r = Files.newBufferedReader(Path.of(path))) {
                props.load(r);
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot read config file " + path + ": " + e);
            }
        }
        return new SettingsDefaults(env, props, path);
    }

    /**
     * The config file's keys that no command has an option of that name for (a typo: {@code http-prot}), sorted. A key
     * that only another command knows is fine: one file may serve several commands ({@code VECTORSTREAM_CONFIG}).
     */
    java.util.List<String> unknownKeys(CommandLine root) {
        java.util.Set<String> known = new java.util.HashSet<>(java.util.Set.of("config"));
        java.util.ArrayDeque<CommandLine> todo = new java.util.ArrayDeque<>(java.util.List.of(root));
        while (!todo.isEmpty()) {
            CommandLine c = todo.pop();
            for (OptionSpec o : c.getCommandSpec().options()) {
                for (String n : o.names()) if (n.startsWith("--")) known.add(n.substring(2));
            }
            todo.addAll(c.getSubcommands().values());
        }
        java.util.List<String> unknown = new java.util.ArrayList<>();
        for (String key : file.stringPropertyNames()) if (!known.contains(key.trim())) unknown.add(key.trim());
        java.util.Collections.sort(unknown);
        return unknown;
    }

    /** The config file read, or null. */
    String path() {
        return path;
    }

    /** True when the environment or the config file gives {@code option} a value (not its built-in default). */
    boolean supplies(OptionSpec option) {
        String name = option.longestName().replaceFirst("^-+", "");
        return env.containsKey(ENV_PREFIX + name.toUpperCase(Locale.ROOT).replace('-', '_')) || file.getProperty(name) != null;
    }

    @Override
    public String defaultValue(ArgSpec spec) {
        if (!(spec instanceof OptionSpec option)) return null;
        String name = option.longestName().replaceFirst("^-+", "");
        if (name.equals("config")) return null;
        String fromEnv = env.get(ENV_PREFIX + name.toUpperCase(Locale.ROOT).replace('-', '_'));
        if (fromEnv != null) return fromEnv;
        String fromFile = file.getProperty(name);
        return fromFile != null ? fromFile.trim() : option.defaultValue();
    }
}
