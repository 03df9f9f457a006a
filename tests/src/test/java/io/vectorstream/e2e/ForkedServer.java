package io.vectorstream.e2e;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A {@code vectorstream serve} in a JVM of its own (this test's class path), for tests that run several instances or
 * kill one: started with the given serve arguments on 127.0.0.1, its output in {@code <dataDir>/server-<i>.log}, and
 * returned once {@code /health/live} answers.
 */
final class ForkedServer {
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private ForkedServer() {
    }

    /** Starts instance {@code i} on {@code port} with its data under {@code dataDir/server-<i>}. */
    static Process start(Path dataDir, int i, int port, List<String> serveArgs) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-Xmx384m", "-cp", System.getProperty("java.class.path"),
                "io.vectorstream.app.Main", "serve", "--data-dir", dataDir.resolve("server-" + i).toString(),
                "--http-host", "127.0.0.1", "--http-port", String.valueOf(port)));
        cmd.addAll(serveArgs);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dataDir.resolve("server-" + i + ".log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            if (!p.isAlive()) throw new AssertionError("server " + i + " exited with " + p.exitValue() + "; see " + dataDir);
            try {
                HttpResponse<String> live = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health/live"))
                        .timeout(Duration.ofSeconds(2)).GET().build(), HttpResponse.BodyHandlers.ofString());
                if (live.statusCode() == 200) return p;
            } catch (java.io.IOException notYet) {
                // starting
            }
            Thread.sleep(100);
        }
        throw new AssertionError("server " + i + " did not start");
    }

    /** A port nobody listens on now. */
    static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
