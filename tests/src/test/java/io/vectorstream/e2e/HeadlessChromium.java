package io.vectorstream.e2e;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * A real headless Chromium (Debian's {@code chromium}) driven over the DevTools protocol with the JDK's own
 * WebSocket client: navigate, evaluate JavaScript in the page, click with the mouse, type, take a screenshot.
 * One page (tab); JavaScript exceptions and console errors of the page are collected.
 */
final class HeadlessChromium implements AutoCloseable {
    /** System property or environment variable naming the browser binary (default: chromium on the PATH). */
    static final String BINARY_PROPERTY = "vectorstream.chromium";
    static final String BINARY_ENV = "VECTORSTREAM_CHROMIUM";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(30);

    private final Process process;
    private final WebSocket socket;
    private final AtomicInteger ids = new AtomicInteger();
    private final Map<Integer, CompletableFuture<JsonNode>> calls = new ConcurrentHashMap<>();
    /** Uncaught exceptions and console errors in the page, as text. */
    final List<String> pageErrors = new CopyOnWriteArrayList<>();

    private HeadlessChromium(Process process, WebSocket socket) {
        this.process = process;
        this.socket = socket;
    }

    /** The browser binary to run, or null when none is installed. */
    static Path find() {
        String named = System.getProperty(BINARY_PROPERTY, System.getenv(BINARY_ENV));
        if (named != null && !named.isBlank()) return Path.of(named);
        String path = System.getenv().getOrDefault("PATH", "");
        for (String name : List.of("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")) {
            for (String dir : path.split(File.pathSeparator)) {
                if (dir.isEmpty()) continue;
                Path candidate = Path.of(dir, name);
                if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) return candidate;
            }
        }
        return null;
    }

    /** Starts the browser with a fresh profile in {@code profile}, a {@code width}×{@code height} window and one blank page. */
    static HeadlessChromium start(Path binary, Path profile, int width, int height) throws Exception {
        Files.createDirectories(profile);
        Path log = profile.resolve("chromium.log");
        Process process = new ProcessBuilder(binary.toString(), "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update", "--remote-debugging-port=0",
                "--remote-allow-origins=*", "--user-data-dir=" + profile.toAbsolutePath(),
                "--window-size=" + width + "," + height, "about:blank")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            int port = debuggingPort(process, profile, log);
            HttpClient http = HttpClient.newHttpClient();
            String pageSocket = null;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (pageSocket == null && System.nanoTime() < deadline) {
                HttpResponse<String> list = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/json/list")).build(),
                        HttpResponse.BodyHandlers.ofString());
                for (JsonNode target : JSON.readTree(list.body())) {
                    if ("page".equals(target.path("type").asText())) pageSocket = target.path("webSocketDebuggerUrl").asText();
                }
                if (pageSocket == null) Thread.sleep(100);
            }
            if (pageSocket == null) throw new IllegalStateException("Chromium opened no page target; its log: " + tail(log));
            Listener listener = new Listener();
            WebSocket socket = http.newWebSocketBuilder().buildAsync(URI.create(pageSocket), listener).get(20, TimeUnit.SECONDS);
            HeadlessChromium browser = new HeadlessChromium(process, socket);
            listener.browser = browser;
            browser.call("Runtime.enable", null);
            browser.call("Page.enable", null);
            browser.call("Emulation.setDeviceMetricsOverride", JSON.createObjectNode().put("width", width).put("height", height)
                    .put("deviceScaleFactor", 1).put("mobile", false));
            return browser;
        } catch (Exception | Error e) {
            process.destroyForcibly();
            throw e;
        }
    }

    /** The port Chromium wrote to {@code DevToolsActivePort} in its profile. */
    private static int debuggingPort(Process process, Path profile, Path log) throws Exception {
        Path file = profile.resolve("DevToolsActivePort");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("Chromium exited at start (code " + process.exitValue() + "): " + tail(log));
            }
            if (Files.exists(file)) {
                List<String> lines = Files.readAllLines(file);
                if (!lines.isEmpty() && !lines.getFirst().isBlank()) return Integer.parseInt(lines.getFirst().trim());
            }
            Thread.sleep(50);
        }
        throw new IllegalStateException("Chromium did not open its DevTools port within 30 s: " + tail(log));
    }

    private static String tail(Path log) {
        try {
            String s = Files.readString(log);
            return s.length() > 2000 ? s.substring(s.length() - 2000) : s;
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** Sends one DevTools command and waits for its result. */
    JsonNode call(String method, ObjectNode params) throws Exception {
        int id = ids.incrementAndGet();
        ObjectNode message = JSON.createObjectNode().put("id", id).put("method", method);
        if (params != null) message.set("params", params);
        CompletableFuture<JsonNode> result = new CompletableFuture<>();
        calls.put(id, result);
        socket.sendText(JSON.writeValueAsString(message), true).get(CALL_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        JsonNode answer = result.get(CALL_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        if (answer.has("error")) throw new IllegalStateException(method + " failed: " + answer.get("error"));
        return answer.path("result");
    }

    void navigate(String url) throws Exception {
        JsonNode r = call("Page.navigate", JSON.createObjectNode().put("url", url));
        if (r.hasNonNull("errorText")) throw new IllegalStateException("navigation to " + url + " failed: " + r.get("errorText"));
        await("document.readyState === 'complete'", Duration.ofSeconds(20), "the page to load");
    }

    /** The value of a JavaScript expression in the page (promises awaited), as JSON. */
    JsonNode eval(String expression) throws Exception {
        JsonNode r = call("Runtime.evaluate", JSON.createObjectNode().put("expression", expression)
                .put("returnByValue", true).put("awaitPromise", true));
        if (r.has("exceptionDetails")) throw new IllegalStateException("JavaScript failed: " + expression + ": " + r.get("exceptionDetails"));
        return r.path("result").path("value");
    }

    /** Polls {@code expression} until it is truthy, and returns its value; fails with {@code what} and the last value. */
    JsonNode await(String expression, Duration timeout, String what) throws Exception {
        return awaitValue(expression, v -> !v.isMissingNode() && !v.isNull() && !(v.isBoolean() && !v.asBoolean())
                && !(v.isTextual() && v.asText().isEmpty()), timeout, what);
    }

    JsonNode awaitValue(String expression, Predicate<JsonNode> done, Duration timeout, String what) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        JsonNode last;
        do {
            last = eval(expression);
            if (done.test(last)) return last;
            Thread.sleep(100);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("timed out after " + timeout.toSeconds() + " s waiting for " + what + "; last value of `"
                + expression + "`: " + last + (pageErrors.isEmpty() ? "" : "; page errors: " + pageErrors));
    }

    /** A real mouse click (pressed and released) in the middle of the element {@code selector} selects. */
    void click(String selector) throws Exception {
        JsonNode box = eval("(() => { const e = document.querySelector(" + JSON.writeValueAsString(selector) + ");"
                + " if (!e) return null; e.scrollIntoView({block: 'center', inline: 'nearest'}); const r = e.getBoundingClientRect();"
                + " return {x: r.x + r.width / 2, y: r.y + r.height / 2, w: r.width, h: r.height}; })()");
        if (box.isNull() || box.path("w").asDouble() == 0) throw new AssertionError("nothing visible to click at " + selector);
        for (String type : new String[]{"mouseMoved", "mousePressed", "mouseReleased"}) {
            ObjectNode p = JSON.createObjectNode().put("type", type).put("x", box.path("x").asDouble()).put("y", box.path("y").asDouble());
            if (!type.equals("mouseMoved")) p.put("button", "left").put("clickCount", 1);
            call("Input.dispatchMouseEvent", p);
        }
    }

    /** Types {@code text} into the focused element, as the keyboard would. */
    void type(String text) throws Exception {
        call("Input.insertText", JSON.createObjectNode().put("text", text));
    }

    /** A PNG of the whole page (not only the window). */
    byte[] screenshot() throws Exception {
        eval("(() => { document.querySelectorAll('*').forEach((e) => { if (e.scrollLeft) e.scrollLeft = 0; }); window.scrollTo(0, 0); return true; })()");
        JsonNode metrics = call("Page.getLayoutMetrics", null);
        JsonNode size = metrics.has("cssContentSize") ? metrics.get("cssContentSize") : metrics.path("contentSize");
        ObjectNode clip = JSON.createObjectNode().put("x", 0).put("y", 0)
                .put("width", Math.max(1, size.path("width").asDouble()))
                .put("height", Math.max(1, size.path("height").asDouble())).put("scale", 1);
        JsonNode shot = call("Page.captureScreenshot", JSON.createObjectNode().put("format", "png")
                .put("captureBeyondViewport", true).set("clip", clip));
        return Base64.getDecoder().decode(shot.path("data").asText());
    }

    private void onMessage(String text) {
        JsonNode m;
        try {
            m = JSON.readTree(text);
        } catch (IOException e) {
            return;
        }
        if (m.has("id")) {
            CompletableFuture<JsonNode> f = calls.remove(m.get("id").asInt());
            if (f != null) f.complete(m);
            return;
        }
        String method = m.path("method").asText();
        JsonNode params = m.path("params");
        if (method.equals("Runtime.exceptionThrown")) {
            JsonNode d = params.path("exceptionDetails");
            pageErrors.add("exception: " + d.path("exception").path("description").asText(d.path("text").asText()));
        } else if (method.equals("Runtime.consoleAPICalled") && params.path("type").asText().equals("error")) {
            List<String> args = new ArrayList<>();
            for (JsonNode a : params.path("args")) args.add(a.path("value").asText(a.path("description").asText()));
            pageErrors.add("console.error: " + String.join(" ", args));
        }
    }

    @Override
    public void close() {
        try {
            call("Browser.close", null);
        } catch (Exception e) {
            // closing anyway below
        }
        socket.abort();
        List<ProcessHandle> children = process.descendants().toList(); // renderer, GPU and utility processes
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
        children.forEach(ProcessHandle::destroyForcibly);
    }

    /** Collects a message's fragments and hands whole messages to the browser. */
    private static final class Listener implements WebSocket.Listener {
        private final StringBuilder text = new StringBuilder();
        volatile HeadlessChromium browser;

        @Override
        public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
            text.append(data);
            if (last) {
                String message = text.toString();
                text.setLength(0);
                HeadlessChromium b = browser;
                if (b != null) b.onMessage(message);
            }
            webSocket.request(1);
            return null;
        }
    }
}
