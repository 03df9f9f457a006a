package io.vectorstream.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code vectorstream rebuild}: asks a running server to rebuild its shards and shows progress until the job ends. */
@Command(name = "rebuild", mixinStandardHelpOptions = true,
        description = "Rebuild the index base of a running server (all its shards, or some) and follow the progress.")
final class RebuildCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--url", required = true, description = "The server, e.g. http://localhost:8080.")
    String url;

    @Option(names = "--partitions", split = ",", paramLabel = "P,...", description = "Only these partitions (default: all the server owns).")
    List<Integer> partitions;

    @Option(names = "--token", description = "Admin bearer token, when the server has one. Env: VECTORSTREAM_TOKEN.")
    String token;

    @Option(names = "--poll-ms", defaultValue = "250", description = "Progress polling interval (default: ${DEFAULT-VALUE}).")
    long pollMs;

    @Option(names = "--timeout-s", defaultValue = "3600", description = "Give up after this long (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    PrintStream out = System.out;
    PrintStream err = System.err;

    @Override
    public Integer call() throws Exception {
        try {
            return run();
        } catch (java.io.IOException e) { // the server is not there, or is not Vectorstream: say so, no stack trace
            String why = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
            err.println("vectorstream rebuild: cannot reach a Vectorstream server at " + url + ": " + why);
            return 1;
        }
    }

    private int run() throws Exception {
        String base = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        String body = partitions == null || partitions.isEmpty() ? "{}" : JSON.writeValueAsString(java.util.Map.of("partitions", partitions));
        HttpResponse<String> started = http.send(request(base + "/v1/admin/rebuild")
                .POST(HttpRequest.BodyPublishers.ofString(body)).header("Content-Type", "application/json").build(),
                HttpResponse.BodyHandlers.ofString());
        if (started.statusCode() != 202) {
            err.println("vectorstream rebuild: the server answered " + started.statusCode() + ": " + started.body());
            return 1;
        }
        String job = JSON.readTree(started.body()).path("job").asText();
        long deadline = System.nanoTime() + Duration.ofSeconds(timeoutSeconds).toNanos();
        JsonNode last = JSON.readTree(started.body());
        while (true) {
            String state = last.path("state").asText();
            out.print("\r" + bar(last.path("percent").asInt()) + " " + last.path("percent").asInt() + "% "
                    + String.format("%-10s", last.path("phase").asText()) + " job " + job);
            out.flush();
            if (state.equals("done")) {
                out.println();
                out.println("rebuild " + job + " done: " + summary(last));
                return 0;
            }
            if (state.equals("failed")) {
                out.println();
                err.println("rebuild " + job + " failed: " + summary(last));
                return 1;
            }
            if (System.nanoTime() > deadline) {
                out.println();
                err.println("rebuild " + job + ": still " + state + " after " + timeoutSeconds + " s; giving up waiting");
                return 1;
            }
            Thread.sleep(pollMs);
            HttpResponse<String> r = http.send(request(base + "/v1/admin/rebuild/" + job).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                out.println();
                err.println("vectorstream rebuild: progress of " + job + ": the server answered " + r.statusCode() + ": " + r.body());
                return 1;
            }
            last = JSON.readTree(r.body());
        }
    }

    private HttpRequest.Builder request(String uri) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(uri)).timeout(Duration.ofSeconds(30));
        String t = token != null ? token : System.getenv("VECTORSTREAM_TOKEN");
        if (t != null && !t.isBlank()) b.header("Authorization", "Bearer " + t);
        return b;
    }

    static String bar(int percent) {
        int width = 30, filled = Math.max(0, Math.min(width, percent * width / 100));
        return "[" + "#".repeat(filled) + "-".repeat(width - filled) + "]";
    }

    private static String summary(JsonNode job) {
        StringBuilder s = new StringBuilder();
        for (JsonNode shard : job.path("shards")) {
            if (!s.isEmpty()) s.append(", ");
            s.append("partition ").append(shard.path("partition").asInt()).append(' ')
                    .append(shard.has("outcome") ? shard.path("outcome").asText() : shard.path("state").asText());
            if (shard.has("error")) s.append(" (").append(shard.path("error").asText()).append(')');
        }
        return s.isEmpty() ? "no shards" : s.toString();
    }
}
