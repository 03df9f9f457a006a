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
}
