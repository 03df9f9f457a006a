package io.vectorstream.app;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code vectorstream} command line. */
@Command(name = "vectorstream", mixinStandardHelpOptions = true, version = "vectorstream 0.1.0",
        description = "A k-nearest-neighbour index kept up to date from a Kafka topic, queried over HTTP.",
        subcommands = {ServeCommand.class, DemoCommand.class, RebuildCommand.class, ProduceCommand.class, BrokerCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit code (0 ok, 1 failure, 2 bad usage). */
    public static int run(String[] args) {
        CommandLine cli = new CommandLine(new Main());
        try {
            SettingsDefaults defaults = SettingsDefaults.fromArgs(args, System.getenv());
            java.util.List<String> unknown = defaults.unknownKeys(cli);
            if (!unknown.isEmpty()) {
                System.err.println("vectorstream: config file " + defaults.path() + ": unknown setting" + (unknown.size() > 1 ? "s " : " ")
                        + String.join(", ", unknown) + " (a key is an option's long name without the dashes, e.g."
                        + " http-port=8080; see vectorstream <command> --help)");
                return 2;
            }
            cli.setDefaultValueProvider(defaults);
        } catch (CommandLine.ParameterException | IllegalArgumentException e) {
            System.err.println("vectorstream: " + e.getMessage());
            return 2;
        }
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof IllegalArgumentException) {
                cmd.getErr().println("vectorstream " + cmd.getCommandName() + ": " + e.getMessage());
                return 2;
            }
            cmd.getErr().println("vectorstream " + cmd.getCommandName() + " failed: " + e.getMessage());
            if (!isOperatorError(e)) e.printStackTrace(cmd.getErr()); // a bug: the trace is for us
            return 1;
        });
        return cli.execute(args);
    }

    /**
     * A failure the message alone explains to an operator, whose stack trace would only bury it: a port already in
     * use (the message names the address and says so).
     */
    static boolean isOperatorError(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.net.BindException) return true;
        }
        return false;
    }

    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }
}
