package io.vectorstream.app;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/** Every subcommand's --help renders cleanly: picocli formats descriptions, so a bare % breaks them. */
class CommandHelpTest {

    @Test
    void everySubcommandsHelpFormatsWithoutWarnings() {
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            CommandLine root = new CommandLine(new Main());
            for (CommandLine sub : root.getSubcommands().values()) {
                String help = sub.getUsageMessage(CommandLine.Help.Ansi.OFF);
                assertThat(help).as(sub.getCommandName()).isNotBlank();
            }
        } finally {
            System.setErr(err);
        }
        assertThat(captured.toString(StandardCharsets.UTF_8)).as("picocli warnings while rendering help").doesNotContain("WARN");
    }

    @Test
    void bf16ScanIsOnByDefaultAndCanBeTurnedOff() {
        ServeOptions on = new ServeOptions();
        new CommandLine(on).parseArgs("--dim", "8");
        assertThat(on.toSettings().index().bf16Scan()).isTrue();
        ServeOptions off = new ServeOptions();
        new CommandLine(off).parseArgs("--dim", "8", "--no-bf16-scan");
        assertThat(off.toSettings().index().bf16Scan()).isFalse();
    }

    /** A port already in use is said in one line (the wrapped BindException), a bug keeps its stack trace. */
    @Test
    void aBusyPortIsAnOperatorErrorAndABugIsNot() throws Exception {
        try (java.net.ServerSocket held = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
             java.net.ServerSocket second = new java.net.ServerSocket()) {
            java.net.BindException busy = org.assertj.core.api.Assertions.catchThrowableOfType(java.net.BindException.class,
                    () -> second.bind(held.getLocalSocketAddress()));
            assertThat(busy).as("binding a held port fails").isNotNull();
            assertThat(Main.isOperatorError(new IllegalStateException("Query API cannot listen on x (is the port already in use?)", busy)))
                    .isTrue();
        }
        assertThat(Main.isOperatorError(new IllegalStateException("bug", new NullPointerException()))).isFalse();
    }

    /** Runs the command line with stderr captured; returns {exit code, stderr}. */
    private static Object[] runCapturingErr(String... args) {
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            int code = Main.run(args);
            return new Object[] {code, captured.toString(StandardCharsets.UTF_8)};
        } finally {
            System.setErr(err);
        }
    }

    @Test
    void aConfigFileWithAnUnknownKeyOrNoFileAtAllIsAUsageErrorThatSaysWhich(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path typo = dir.resolve("typo.properties");
        java.nio.file.Files.writeString(typo, "bootstrap-servers=localhost:1\ndim=8\nhttp-prot=28181\n");
        Object[] r = runCapturingErr("serve", "--config", typo.toString());
        assertThat(r[0]).isEqualTo(2);
        assertThat((String) r[1]).contains("unknown setting http-prot").contains(typo.toString()).doesNotContain("Exception");

        Object[] missing = runCapturingErr("produce", "--config", dir.resolve("nope.properties").toString(), "x.npy");
        assertThat(missing[0]).isEqualTo(2);
        assertThat((String) missing[1]).contains("cannot read config file").doesNotContain("at picocli");

        // a key another command knows is fine (one file may serve several commands): http-port with produce
        SettingsDefaults shared = new SettingsDefaults(java.util.Map.of(), props("http-port=9000\ntopic=t\n"));
        assertThat(shared.unknownKeys(new CommandLine(new Main()))).isEmpty();
    }

    @Test
    void theDemoRefusesNothingToDoAndRebuildSaysWhenNoServerAnswers() throws Exception {
        Object[] demo = runCapturingErr("demo", "--count", "0", "--exit");
        assertThat(demo[0]).isEqualTo(2);
        assertThat((String) demo[1]).contains("--count must be at least 1");

        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort(); // closed again: nobody listens there
        }
        Object[] rebuild = runCapturingErr("rebuild", "--url", "http://127.0.0.1:" + port);
        assertThat(rebuild[0]).isEqualTo(1);
        assertThat((String) rebuild[1]).contains("cannot reach a Vectorstream server at http://127.0.0.1:" + port)
                .doesNotContain("\tat ");
    }

    @Test
    void theDemoTakesItsDimensionFromTheConfigFile() {
        SettingsDefaults file = new SettingsDefaults(java.util.Map.of(), props("dim=16\n"));
        CommandLine demo = new CommandLine(new Main()).getSubcommands().get("demo");
        assertThat(file.supplies(demo.getCommandSpec().findOption("--dim"))).isTrue();
        assertThat(file.supplies(demo.getCommandSpec().findOption("--count"))).isFalse();
        SettingsDefaults env = new SettingsDefaults(java.util.Map.of("VECTORSTREAM_BOOTSTRAP_SERVERS", "h:1"), new java.util.Properties());
        assertThat(env.supplies(demo.getCommandSpec().findOption("--bootstrap-servers"))).isTrue();
    }

    private static java.util.Properties props(String text) {
        java.util.Properties p = new java.util.Properties();
        try {
            p.load(new java.io.StringReader(text));
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
        return p;
    }
}
